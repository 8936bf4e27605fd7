"""Ingest speed with the default pipeline: a full ingest, a re-ingest with nothing changed, one after touching 5%.

    python benchmarks/ingest.py                 # the shared corpus's 20-file sample (built with ../shared/corpus/build.sh)
    python benchmarks/ingest.py --full-corpus   # all of the shared corpus
    python benchmarks/ingest.py FOLDER          # any folder

The folder is copied to a scratch folder first (the touched files are the copy's). Each figure
line gives files/s, PDF pages/s, chunks/s, the main process's peak RSS so far (ru_maxrss; not the
loading workers': a spawned child's ru_maxrss starts from its parent's, forked before the exec)
and where the time went (IngestReport.timings). The full ingest
is measured twice in the same run: with the default (``workers: 0``, loading in the main process)
and with the loading pool (``workers: auto``), so the pool's speedup shows. Models are loaded and warmed up before any
timed ingest: the figures are ingest time, not model load time.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragkit.pipeline import RAG  # noqa: E402
from ragkit.types import IngestReport  # noqa: E402

BUILD = REPO.parent / "shared" / "corpus" / "build.sh"
TOUCHED = 0.05  # the share of files touched before the last re-ingest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, help="folder to ingest (default: the shared corpus sample)")
    parser.add_argument("--full-corpus", action="store_true", help="without FOLDER: the whole shared corpus")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--no-pool", action="store_true", help="skip the second full ingest with the loading pool")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="ragkit-ingest-bench-"))
    try:
        source = args.folder or _shared_corpus(scratch / "corpus" / "full", args.full_corpus)
        folder = scratch / "docs"
        shutil.copytree(source, folder, symlinks=True)
        files = sorted(path for path in folder.rglob("*") if path.is_file())
        _progress(f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB from {source}")
        results: dict[str, Any] = {"command": " ".join(["python", *sys.argv]), "folder": str(source), "files": len(files)}

        rag = _warm(scratch / "store-default", {})
        full = results["full"] = _measure("full ingest", rag, folder)
        results["unchanged"] = _measure("re-ingest, nothing changed", rag, folder)
        results["unchanged"]["ratio_to_full"] = results["unchanged"]["seconds"] / full["seconds"]
        for path in files[:: round(1 / TOUCHED)][: math.ceil(len(files) * TOUCHED)]:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write("\nTouched by benchmarks/ingest.py.\n")
        results["touched"] = _measure(f"re-ingest, {math.ceil(len(files) * TOUCHED)} files touched", rag, folder)
        results["workers"] = 0
        if not args.no_pool:
            pool = _warm(scratch / "store-pool", {"loading": {"workers": "auto"}})
            results["workers"] = pool.config.loading.worker_count()
            results["full_pool"] = _measure("full ingest, workers: auto (loading pool)", pool, folder)
            results["pool_speedup"] = full["seconds"] / results["full_pool"]["seconds"]
        _print_table(results)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _shared_corpus(out: Path, full: bool) -> Path:
    """Build the shared corpus into ``out``; its 20-file sample lands next to it."""
    if not BUILD.exists():
        sys.exit(f"no folder given and no corpus builder at {BUILD}")
    _progress(f"building the shared corpus with {BUILD}")
    subprocess.run(["bash", str(BUILD), str(out)], check=True, stdout=subprocess.DEVNULL)
    return out if full else out.parent / "subset20"


def _warm(store: Path, overrides: dict[str, Any]) -> RAG:
    """The default pipeline on its own store (no embedding progress bars), with the embedder loaded and run once."""
    quiet = {"embedder": {"type": "sentence-transformers", "show_progress": False}}
    rag = RAG.from_dict({"store": {"type": "chroma", "path": str(store)}, **quiet, **overrides})
    rag.embedder.embed_documents(["warm up"])
    return rag


def _measure(name: str, rag: RAG, folder: Path) -> dict[str, Any]:
    _progress(name)
    started = time.perf_counter()
    report = rag.ingest(folder, progress=False)
    seconds = time.perf_counter() - started
    figures = {
        "name": name,
        "seconds": seconds,
        "files_loaded": report.files_loaded,
        "failed": len(report.failed),
        "pdf_pages": _pdf_pages(rag, report),
        "chunks": report.chunks_written,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "timings": report.timings,
    }
    _progress(json.dumps(figures))
    return figures


def _pdf_pages(rag: RAG, report: IngestReport) -> int:
    """Pages of the PDFs this ingest loaded, from the page counts the PDF loader stores with their chunks."""
    loaded = set(report.added) | set(report.updated)
    metadatas = rag.store.collection.get(where={"file_type": "pdf"}, include=["metadatas"])["metadatas"]
    return sum({m["source"]: m["pages"] for m in metadatas if m["source"] in loaded}.values())


def _print_table(results: dict[str, Any]) -> None:
    print(f"\n{results['files']} files from {results['folder']}; loading pool workers: {results['workers']}")
    print("| ingest | s | files/s | PDF pages/s | chunks/s | peak RSS MB | plan | load | chunk | embed | write |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for key in ("full", "unchanged", "touched", "full_pool"):
        if key not in results:
            continue
        row = results[key]
        seconds = row["seconds"]
        timings = [f"{row['timings'].get(part, 0.0):.2f}" for part in ("plan", "load", "chunk", "embed", "write")]
        print(
            f"| {row['name']} | {seconds:.3f} | {row['files_loaded'] / seconds:.2f} | {row['pdf_pages'] / seconds:.1f} | "
            f"{row['chunks'] / seconds:.1f} | {row['peak_rss_mb']:.0f} | "
            + " | ".join(timings) + " |"
        )
    print(f"\nno-change re-ingest / full ingest: {results['unchanged']['ratio_to_full']:.3%} (target < 2%)")
    if "pool_speedup" in results:
        print(f"pool speedup over workers: 0: {results['pool_speedup']:.2f}x")


def _progress(message: str) -> None:
    """Progress to stderr at once: a run cut short still shows how far it got."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
