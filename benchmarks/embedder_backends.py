"""The embedder's torch and onnx-int8 backends side by side: speed, vectors and retrieval, in one run.

Ingests the folder twice with the default pipeline, once per ``embedder.backend``, into two
scratch stores (embedders loaded first, so model loading and the one-time ONNX export are
timed apart from the ingest), then prints and writes as JSON:

- **ingest**: each full ingest's seconds and where they went (``IngestReport.timings``), and
  chunks per second of its embed stage; onnx-int8's speed-ups (torch's time over its time).
- **throughput**: both embedders on the same sample of the stored chunks (every ``--every``-th),
  alternately, ``--repeat`` times each, best time kept (other jobs on the machine only slow
  a run down); chunks per second and their ratio. A third, torch in float32, stands for a CPU
  without native bfloat16, where ``dtype: auto`` gives float32.
- **vectors**: the cosine between the two stores' vectors of every chunk (the chunks are the
  same: the backend changes neither tokenizer nor limits).
- **retrieval**: hit@1, hit@5 and MRR@10 (``retrieval_modes.measure``) of each store with the
  default hybrid retriever and with dense alone, per question set.

    python benchmarks/embedder_backends.py /tmp/corpus/full --json benchmarks/results/embedder_backends.json

The default question set is the English dev split of ``benchmarks/eval/answers_en.jsonl``, whose
files are paths under the shared corpus's root (``../shared/corpus/build.sh /tmp/corpus/full``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragkit.devices import cpu_has_bfloat16  # noqa: E402
from ragkit.embedders.base import Embedder  # noqa: E402
from ragkit.embedders.sentence_transformers import SentenceTransformerEmbedder  # noqa: E402
from ragkit.pipeline import RAG  # noqa: E402
from retrieval_modes import measure, read_questions  # noqa: E402

BACKENDS = ("torch", "onnx-int8")
RETRIEVERS: dict[str, dict[str, Any]] = {"hybrid (default)": {"type": "hybrid"}, "dense": {"type": "dense"}}
QUESTIONS = REPO / "benchmarks" / "eval" / "answers_en.jsonl"


def pipeline(store: Path, backend: str, retriever: dict[str, Any] | None = None) -> RAG:
    """The default pipeline on ``store`` with the embedder on ``backend`` (no progress bars)."""
    data: dict[str, Any] = {
        "store": {"type": "chroma", "path": str(store)},
        "embedder": {"type": "sentence-transformers", "backend": backend, "show_progress": False},
    }
    if retriever is not None:
        data["retriever"] = retriever
    return RAG.from_dict(data)


def progress(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}, load {os.getloadavg()[0]:.2f}] {line}", file=sys.stderr, flush=True)


def ingest(rag: RAG, backend: str, folder: Path) -> dict[str, Any]:
    """Load (and for onnx-int8 perhaps export) the embedder, then ingest ``folder`` from scratch."""
    started = time.perf_counter()
    rag.embedder.embed_documents(["warm up"])
    loaded = time.perf_counter() - started
    progress(f"{backend}: embedder ready in {loaded:.1f} s; ingesting {folder}")
    started = time.perf_counter()
    report = rag.ingest(folder, rebuild=True, progress=False)
    seconds = time.perf_counter() - started
    figures = {
        "embedder_ready_s": loaded,
        "seconds": seconds,
        "chunks": report.chunks_written,
        "files_loaded": report.files_loaded,
        "failed": len(report.failed),
        "timings": report.timings,
        "embed_chunks_per_s": report.chunks_written / report.timings["embed"],
        "load_average_after": os.getloadavg()[0],
    }
    progress(f"{backend}: {json.dumps(figures)}")
    return figures


def chunk_sample(rag: RAG, every: int) -> tuple[list[str], list[str]]:
    """(ids, texts) of every ``every``-th chunk of the store, in its scan order."""
    ids: list[str] = []
    texts: list[str] = []
    for batch_ids, chunks in rag.store.scan():
        ids.extend(batch_ids)
        texts.extend(chunk.text for chunk in chunks)
    return ids[::every], texts[::every]


def throughput(embedders: dict[str, Embedder], texts: list[str], repeat: int) -> dict[str, float]:
    """Chunks per second of each embedder on ``texts``, the best of ``repeat`` alternating runs."""
    best = {name: float("inf") for name in embedders}
    for _ in range(repeat):
        for name, embedder in embedders.items():
            started = time.perf_counter()
            embedder.embed_documents(texts)
            best[name] = min(best[name], time.perf_counter() - started)
    return {name: len(texts) / seconds for name, seconds in best.items()}


def vector_cosines(rags: dict[str, RAG]) -> dict[str, float]:
    """Cosine of the torch and the onnx-int8 vector of every chunk, from the two stores."""
    torch_store, onnx_store = rags["torch"].store, rags["onnx-int8"].store
    cosines: list[np.ndarray] = []
    for ids, _ in torch_store.scan():
        left, right = torch_store.vectors(ids), onnx_store.vectors(ids)
        cosines.append(np.sum(left * right, axis=1) / (np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)))
    values = np.concatenate(cosines)
    return {"chunks": int(values.size), "min": float(values.min()), "p1": float(np.percentile(values, 1)), "mean": float(values.mean())}


def retrieval(stores: dict[str, Path], sets: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Each store with each retriever on each question set."""
    results: dict[str, Any] = {}
    for backend, store in stores.items():
        for name, retriever in RETRIEVERS.items():
            rag = pipeline(store, backend, retriever)
            rag.retrieve("warm up", 1)
            results.setdefault(backend, {})[name] = {set_name: measure(rag, questions) for set_name, questions in sets.items()}
    return results


def print_tables(results: dict[str, Any]) -> None:
    ingests, speed = results["ingest"], results["throughput"]
    print(
        f"\n{results['folder']}: {ingests['torch']['chunks']} chunks; load average {results['load_average_before']:.2f} before, "
        f"{results['load_average_after']:.2f} after; native bfloat16: {results['cpu_has_bfloat16']} (torch's dtype auto)"
    )
    print("| backend | embedder ready s | ingest s | embed s | embed chunks/s | same-sample chunks/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for backend in BACKENDS:
        row = ingests[backend]
        print(
            f"| {backend} | {row['embedder_ready_s']:.1f} | {row['seconds']:.1f} | {row['timings']['embed']:.1f} | "
            f"{row['embed_chunks_per_s']:.1f} | {speed[backend]:.1f} |"
        )
    ratios = results["ratios"]
    print(
        f"\nonnx-int8 speed-ups over torch: full ingest {ratios['ingest_speedup']:.2f}x (torch seconds / onnx-int8 seconds), "
        f"ingest embed stage {ratios['embed_speedup']:.2f}x, same sample {ratios['throughput_speedup']:.2f}x "
        f"({speed['sample_chunks']} chunks, best of {speed['repeat']}); over torch float32 "
        f"({speed['torch float32']:.1f} chunks/s) {ratios['throughput_speedup_over_float32']:.2f}x"
    )
    cosines = results["vectors"]
    print(f"cosine torch vs onnx-int8 over {cosines['chunks']} chunks: min {cosines['min']:.4f}, 1st percentile {cosines['p1']:.4f}, mean {cosines['mean']:.4f}")
    for set_name, count in results["questions"].items():
        print(f"\n{set_name} ({count} questions)")
        print("| retriever | backend | hit@1 | hit@5 | MRR@10 |")
        print("| --- | --- | ---: | ---: | ---: |")
        for name in RETRIEVERS:
            for backend in BACKENDS:
                row = results["retrieval"][backend][name][set_name]
                print(f"| {name} | {backend} | {row['hit@1']:.3f} | {row['hit@5']:.3f} | {row['mrr@10']:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path, help="the folder to ingest, e.g. /tmp/corpus/full")
    parser.add_argument("--questions", type=Path, action="append", help=f"a .jsonl question set (default: {QUESTIONS.name})")
    parser.add_argument("--split", default="dev", help="only this split of an answer set (default: dev)")
    parser.add_argument("--stores", type=Path, help="keep the two stores here (default: a scratch folder, removed)")
    parser.add_argument("--every", type=int, default=10, help="the throughput sample: every N-th stored chunk")
    parser.add_argument("--repeat", type=int, default=2, help="alternating throughput runs per backend")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    sets = {path.name: read_questions(path, args.split) for path in args.questions or [QUESTIONS]}

    root = args.stores or Path(tempfile.mkdtemp(prefix="ragkit-backends-"))
    try:
        stores = {backend: root / backend for backend in BACKENDS}
        results: dict[str, Any] = {
            "command": " ".join(["python", *sys.argv]),
            "folder": str(args.folder),
            "load_average_before": os.getloadavg()[0],
            "cpu_has_bfloat16": cpu_has_bfloat16(),
            "questions": {name: len(questions) for name, questions in sets.items()},
        }
        rags = {backend: pipeline(store, backend) for backend, store in stores.items()}
        results["ingest"] = {backend: ingest(rag, backend, args.folder) for backend, rag in rags.items()}
        _, texts = chunk_sample(rags["torch"], args.every)
        progress(f"throughput on {len(texts)} chunks")
        float32 = SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(backend="torch", dtype="float32", show_progress=False))
        embedders = {**{backend: rag.embedder for backend, rag in rags.items()}, "torch float32": float32}
        speed = throughput(embedders, texts, args.repeat)
        results["throughput"] = {**speed, "sample_chunks": len(texts), "repeat": args.repeat}
        progress("cosines")
        results["vectors"] = vector_cosines(rags)
        progress("retrieval")
        results["retrieval"] = retrieval(stores, sets)
        ingests = results["ingest"]
        results["ratios"] = {
            "ingest_speedup": ingests["torch"]["seconds"] / ingests["onnx-int8"]["seconds"],
            "embed_speedup": ingests["onnx-int8"]["embed_chunks_per_s"] / ingests["torch"]["embed_chunks_per_s"],
            "throughput_speedup": speed["onnx-int8"] / speed["torch"],
            "throughput_speedup_over_float32": speed["onnx-int8"] / speed["torch float32"],
        }
        results["load_average_after"] = os.getloadavg()[0]
        print_tables(results)
        print(json.dumps(results, indent=2))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if args.stores is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
