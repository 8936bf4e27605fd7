"""Memory of building the keyword index's BM25 matrix: ragkit's build against bm25s fed term lists, same chunks.

    python benchmarks/keyword_build_memory.py --chunks 177000 --json benchmarks/results/keyword-build-memory.json

The chunks are the memory benchmark's (``ingest_memory.py``): 12 random words a line from its fixed
vocabulary, 12 lines a chunk, about the size of the default chunker's. They are written once into a
``BM25Index`` (``terms.sqlite``); then each way of building runs in a child process of its own, so its
peak RSS (``ru_maxrss``) is its own: ``bm25s`` is ``bm25s.BM25.index`` given every chunk's terms as a
list of strings (what the index did before), ``ragkit`` is ``BM25Index``'s build from the same rows.
Both must give the same scores to the bit on a few queries, or the run fails.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest_memory import VOCABULARY  # noqa: E402
from ragkit.indexes.bm25 import BM25Index  # noqa: E402
from ragkit.types import Chunk  # noqa: E402

QUERIES = ("osprey heron kestrel", "keeper station north", "storm light house")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=177_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=2, metavar=("WAY", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_build(*args.child)))
        return
    with tempfile.TemporaryDirectory(prefix="ragkit-bm25-") as work:
        folder = Path(work) / "index"
        _write(folder, args.chunks)
        results = {way: _child(way, folder) for way in ("bm25s", "ragkit")}
    scores = {way: result.pop("scores") for way, result in results.items()}
    if scores["bm25s"] != scores["ragkit"]:
        raise SystemExit("the two builds score differently")
    base = results["bm25s"]
    for way, result in results.items():
        result["memory_x_bm25s"] = round(result["build_mb"] / base["build_mb"], 3)
        result["seconds_x_bm25s"] = round(result["seconds"] / base["seconds"], 3)
        print(json.dumps({"way": way, "chunks": args.chunks, **result}), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"chunks": args.chunks, **results}, indent=2) + "\n")


def _write(folder: Path, count: int) -> None:
    index = BM25Index(BM25Index.Config(), path=folder)
    rng = random.Random(177)
    for start in range(0, count, 2000):
        chunks = [
            Chunk("\n".join(" ".join(rng.choices(VOCABULARY, k=12)) for _ in range(12)), {"source": "words.txt", "ordinal": n})
            for n in range(start, min(count, start + 2000))
        ]
        index.upsert([chunk.id for chunk in chunks], chunks)


def _child(way: str, folder: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", way, str(folder)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def _build(way: str, folder: str) -> dict[str, Any]:
    """Build one way; the RSS it added at its peak, its seconds, and its scores for ``QUERIES``."""
    import bm25s  # imported before the baseline RSS is read, as the index's own first use would

    index = BM25Index(BM25Index.Config(), path=Path(folder))
    index.count()  # the database opened
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if way == "bm25s":
        rows = sqlite3.connect(Path(folder) / "terms.sqlite").execute("SELECT terms FROM chunks ORDER BY rowid").fetchall()
        model = bm25s.BM25(k1=index.config.k1, b=index.config.b)
        model.index([terms.split() for (terms,) in rows], show_progress=False)
    else:
        model = index._build().model
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scores = [model.get_scores(index.tokenizer(query)).tolist() for query in QUERIES]
    return {"build_mb": round((peak - before) / 1024, 1), "seconds": round(seconds, 2), "scores": scores}


if __name__ == "__main__":
    main()
