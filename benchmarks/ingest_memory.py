"""Peak memory of ingesting hostile files: a big text file and a line without spaces, against a small folder.

    python benchmarks/ingest_memory.py                         # 150 MB of words, a 50 MB line, sample_docs
    python benchmarks/ingest_memory.py --text-mb 20 --line-mb 5 --max-seconds 600

Each case is one ``ragkit ingest`` (the real CLI, default pipeline, its own store) in a child
process; its peak RSS is the child's own ``ru_maxrss`` from ``os.wait4``, so the cases never
mix. The target (issue 13): the big files at most 1.5 GB above the small folder. The text
file is random words from a fixed vocabulary, 12 to a line, beside a few .md files; the line is
random letters and digits, no space and no line break. ``--max-seconds`` stops a case that runs
longer (SIGKILL, as a crash would): embedding 150 MB of prose takes hours on 2 cores, while
memory is flat after the first batches, so its peak is already reached; the chunks committed
by then are reported. A case that finishes is checked against a clean chunking of its files:
the store's chunk ids per file must be exactly the chunker's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragkit.loaders.walker import walk  # noqa: E402
from ragkit.ingest.manifest import Manifest  # noqa: E402
from ragkit.ingest.state import MANIFEST  # noqa: E402
from ragkit.pipeline import RAG  # noqa: E402

TARGET_MB_ABOVE_SMALL = 1536
VOCABULARY = (
    "the harbor tide osprey heron kestrel marsh plover dune curlew reed river boat net rope salt wind "
    "morning evening storm light house keeper station north south channel buoy anchor current shore"
).split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--text-mb", type=float, default=150.0, help="size of the text file of words (default 150)")
    parser.add_argument("--line-mb", type=float, default=50.0, help="size of the line without spaces (default 50)")
    parser.add_argument("--max-seconds", type=float, default=None, help="stop a case after this long (SIGKILL)")
    parser.add_argument("--cases", nargs="+", default=["small", "text", "line"], choices=["small", "text", "line"])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ragkit-memory-") as scratch:
        work = Path(scratch)
        folders = {
            "small": REPO / "sample_docs",
            "text": _text_folder(work / "text", int(args.text_mb * 1e6)),
            "line": _line_folder(work / "line", int(args.line_mb * 1e6)),
        }
        results = {case: _run(case, folders[case], work, args.max_seconds) for case in args.cases}
    small = results.get("small", {}).get("peak_rss_mb")
    for case, result in results.items():
        if small is not None and case != "small":
            result["above_small_mb"] = round(result["peak_rss_mb"] - small, 1)
            result["within_target"] = result["above_small_mb"] <= TARGET_MB_ABOVE_SMALL
        print(json.dumps({"case": case, **result}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def _text_folder(folder: Path, size: int) -> Path:
    """``size`` bytes of random words, 12 to a line, beside three Markdown notes."""
    _notes(folder)
    rng = random.Random(150)
    with open(folder / "words.txt", "w", encoding="utf-8") as out:
        written = 0
        while written < size:
            block = "\n".join(" ".join(rng.choices(VOCABULARY, k=12)) for _ in range(10_000)) + "\n"
            out.write(block)
            written += len(block)
    return folder


def _line_folder(folder: Path, size: int) -> Path:
    """One line of ``size`` random letters and digits: no space, no line break."""
    _notes(folder)
    rng = random.Random(50)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    with open(folder / "line.txt", "w", encoding="ascii") as out:
        for start in range(0, size, 1_000_000):
            out.write("".join(rng.choices(alphabet, k=min(1_000_000, size - start))))
    return folder


def _notes(folder: Path) -> None:
    folder.mkdir(parents=True)
    for n in range(3):
        (folder / f"note-{n}.md").write_text(f"# Note {n}\n\nThe curlew came back to harbor {n}.\n")


def _pipeline(work: Path, case: str) -> Path:
    path = work / f"{case}.yaml"
    path.write_text(f"store:\n  type: chroma\n  path: {work / ('store-' + case)}\n")
    return path


def _run(case: str, folder: Path, work: Path, max_seconds: float | None) -> dict[str, Any]:
    """One ingest in a child process: its peak RSS, time, outcome and check against a clean chunking."""
    pipeline = _pipeline(work, case)
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "ragkit.cli", "ingest", str(folder), "-p", str(pipeline), "--json"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    status, usage, killed = _wait(child, max_seconds)
    seconds = time.monotonic() - started
    assert child.stdout is not None
    out = child.stdout.read()
    result: dict[str, Any] = {
        "bytes": sum(path.stat().st_size for path, _ in walk(folder, ["**/*"], [])),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(seconds, 1),
        "stopped_after_max_seconds": killed,
        "exit": os.waitstatus_to_exitcode(status),
    }
    rag = RAG.from_yaml(pipeline)
    with Manifest(rag.state.path(MANIFEST), readonly=True) as manifest:
        rows = manifest.entries(str(folder))
        result["files_committed"] = len(rows)
        result["files_pending"] = sorted(manifest.pending(str(folder)))
    result["chunks_stored"] = rag.store.count()
    if not killed and out:
        report = json.loads(out)
        result["failed"] = report["failed"]
        result["chunks_written"] = report["chunks_written"]
        result["ids_match_clean_chunking"] = _ids_match(rag, folder, rows)
    return result


def _wait(child: subprocess.Popen[str], max_seconds: float | None) -> tuple[int, Any, bool]:
    """Wait for ``child`` (killing it after ``max_seconds``); its own exit status and resource usage."""
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return status, usage, False
        if deadline is not None and time.monotonic() > deadline:
            child.send_signal(signal.SIGKILL)
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = -signal.SIGKILL
            return status, usage, True
        time.sleep(0.5)


def _ids_match(rag: RAG, folder: Path, rows: dict[str, Any]) -> bool:
    """Whether the store holds, for every file, exactly the ids a clean chunking of it gives."""
    by_extension = {ext: loader for loader in rag.loaders for ext in loader.extensions}
    for path, source in walk(folder, ["**/*"], []):
        documents = by_extension[path.suffix.lower()].load(path.read_bytes(), source)
        expected = []
        for document in documents:
            document.metadata["root"] = str(folder)
            expected += [chunk.id for chunk in rag.chunker.chunk(document)]
        stored = rag.store.ids({"root": str(folder), "source": source})
        if sorted(stored) != sorted(expected) or sorted(rows[source].chunk_ids) != sorted(expected):
            return False
    return True


if __name__ == "__main__":
    main()
