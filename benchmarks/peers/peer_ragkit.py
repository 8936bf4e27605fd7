"""ragkit doing the peers' job through its public Python API, as a user would (run with ragkit's own python).

    python peer_ragkit.py ingest FOLDER --store DIR [--pipeline pipelines/default.yaml] [--json OUT]
    python peer_ragkit.py retrieve --store DIR --questions FILE [--pipeline FILE] [--k 10] [--json OUT]

The pipeline file is used as written, with two overrides only: the store's path, and the
embedder's progress bar off (display only). ``ingest`` is ``rag.ingest(folder, progress=False)``
on a fresh store, so the embedder's model load falls in its ``embed`` phase (it loads lazily).
``retrieve`` ranks every question with one batched ``rag.retriever.retrieve(questions, k)``, the
figures that are scored, and times the same retriever one question at a time for the latency.
The output has the peers' format (``peer_common``); the retrieval mode is named after the
pipeline's retriever type.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from peer_common import STORE_NOTE, Phases, chunk_stats, latency_summary, load_questions, offline, run_questions

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # this checkout's ragkit, whatever is installed
DEFAULT_PIPELINE = REPO / "pipelines" / "default.yaml"


def overrides(store: Path) -> dict[str, Any]:
    """All that changes in the pipeline file: the store's path, and no progress bar while embedding."""
    return {"store": {"path": str(store)}, "embedder": {"show_progress": False}}


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    folder = args.folder.resolve()
    phases = Phases()
    with phases.timed("import"):
        from ragkit import RAG
        from ragkit.models import resolve
    with phases.timed("setup"):
        rag = RAG.from_yaml(args.pipeline, overrides=overrides(args.store))
    report = rag.ingest(folder, progress=False)
    timings = report.timings
    phases.seconds.update(
        {
            "load": timings.get("load", 0.0),
            "chunk": timings.get("chunk", 0.0),
            "embed+write": timings.get("embed", 0.0) + timings.get("write", 0.0),
            "other": report.seconds - sum(timings.get(name, 0.0) for name in ("load", "chunk", "embed", "write")),
        }
    )
    texts = rag.store.collection.get(include=["documents"])["documents"] if hasattr(rag.store, "collection") else []
    (args.store / STORE_NOTE).write_text(json.dumps({"peer": "ragkit", "folder": str(folder), "pipeline": str(args.pipeline)}))
    return {
        "peer": "ragkit",
        "folder": str(folder),
        "store": str(args.store),
        "pipeline": str(args.pipeline),
        "model": resolve(rag.embedder.config.model).location,
        "seconds": phases.total,
        "phases": phases.seconds,
        "ingest_timings": timings,
        "files": report.files_loaded,
        "failed": [[failed.path, failed.reason] for failed in report.failed],
        "documents": report.documents,
        "chunks": report.chunks_written,
        "chunk_tokens": chunk_stats(rag.embedder.count_tokens(texts)) if texts else {},
        "settings": {
            "pipeline": str(args.pipeline),
            "chunker": rag.config.chunker.model_dump(mode="json"),
            "embedder": rag.config.embedder.model_dump(mode="json"),
            "store": rag.config.store.model_dump(mode="json"),
        },
    }


def retrieve(args: argparse.Namespace) -> dict[str, Any]:
    if not (args.store / STORE_NOTE).exists():
        sys.exit(f"ragkit: no {STORE_NOTE} in {args.store}; run `ingest FOLDER --store {args.store}` first")
    questions = load_questions(args.questions)
    phases = Phases()
    with phases.timed("import"):
        from ragkit import RAG
    with phases.timed("setup"):
        rag = RAG.from_yaml(args.pipeline, overrides=overrides(args.store))
        rag.retriever.retrieve([questions[0]["question"]], args.k)  # loads the embedder and any index
    texts = [item["question"] for item in questions]
    started = time.perf_counter()
    ranked = rag.retriever.retrieve(texts, args.k)
    batched_seconds = time.perf_counter() - started
    one_by_one = run_questions(questions, lambda text: [hit.source for hit in rag.retriever.retrieve([text], args.k)[0]], args.k)
    mode = args.label or rag.config.retriever.type
    return {
        "peer": "ragkit",
        "store": str(args.store),
        "pipeline": str(args.pipeline),
        "k": args.k,
        "setup_phases": phases.seconds,
        "modes": {
            mode: {
                "latency": one_by_one["latency"],
                "batched": latency_summary([batched_seconds / len(texts)]) if texts else {},
                "questions": [
                    {"id": item["id"], "sources": [hit.source for hit in hits]} for item, hits in zip(questions, ranked)
                ],
            }
        },
    }


def main() -> None:
    offline()
    parser = argparse.ArgumentParser(description="Ingest a folder or retrieve from it with ragkit, in the peers' format.")
    commands = parser.add_subparsers(dest="command", required=True)
    ingest_parser = commands.add_parser("ingest", help="rag.ingest(FOLDER) on a fresh store")
    ingest_parser.add_argument("folder", type=Path)
    retrieve_parser = commands.add_parser("retrieve", help="top-k sources for every question of a JSONL file")
    retrieve_parser.add_argument("--questions", type=Path, required=True, help="JSONL with 'id' and 'question'")
    retrieve_parser.add_argument("--k", type=int, default=10)
    retrieve_parser.add_argument("--label", default=None, help="the mode's name in the output (default: the retriever type)")
    for sub in (ingest_parser, retrieve_parser):
        sub.add_argument("--store", type=Path, required=True, help="the store's folder")
        sub.add_argument("--pipeline", type=Path, default=DEFAULT_PIPELINE, help="pipeline YAML (default: pipelines/default.yaml)")
        sub.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()
    args.store.mkdir(parents=True, exist_ok=True)
    result = ingest(args) if args.command == "ingest" else retrieve(args)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
    summary = {key: value for key, value in result.items() if key != "modes"}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
