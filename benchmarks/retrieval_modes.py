"""Dense, keyword and hybrid retrieval on the same store, by how often the right file comes back.

Opens an existing store (built with any pipeline: the first keyword search
builds the keyword index from the store's own chunks, which is timed too) and
asks each question set with each retriever. A question is a JSON object with
``question`` and the answering file in ``file`` (or ``source``), a path that
ends with the hit's source (so a dev set written relative to a corpus root
works against a store of one of its folders). Prints, per set and retriever,
the right file at rank 1, in the top 5, its mean reciprocal rank over the top
10, and the milliseconds per question (asked in one batch). Run e.g.::

    python benchmarks/retrieval_modes.py --store /tmp/store \\
        --questions ../shared/eval/dev_debian_faq.jsonl
    python benchmarks/retrieval_modes.py --store /tmp/stores/zh --questions benchmarks/eval/answers_zh.jsonl --split dev

With gold answers, ``ans@1`` and ``ans@5`` are the shares whose answer text is in the first, or
the first 5, passages.

It writes to the store's folder (the keyword index); use a copy of a store
you want to keep as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragkit.evaluation import contains_answers  # noqa: E402
from ragkit.pipeline import RAG  # noqa: E402

RETRIEVERS: dict[str, dict[str, Any]] = {
    "dense": {"type": "dense"},
    "keyword": {"type": "keyword"},
    "hybrid": {"type": "hybrid"},
    "hybrid rrf_k=10": {"type": "hybrid", "rrf_k": 10},
    "hybrid keyword x0.5": {"type": "hybrid", "weights": {"keyword": 0.5}},
    # The default ranks a Chinese question by keyword alone (chinese_weights); these fuse Chinese ones too.
    "hybrid, zh fused": {"type": "hybrid", "chinese_weights": None},
    "hybrid, zh dense x0.5": {"type": "hybrid", "chinese_weights": {"dense": 0.5}},
    "hybrid, zh dense x0.25": {"type": "hybrid", "chinese_weights": {"dense": 0.25}},
}
DEPTH = 10


def read_questions(path: Path, split: str | None) -> list[dict[str, Any]]:
    """The questions with an answering file (of one ``split`` when given), with their gold answers if any."""
    text = path.read_text(encoding="utf-8")
    rows = json.loads(text) if path.suffix == ".json" else [json.loads(line) for line in text.splitlines() if line.strip()]
    return [
        {"question": row["question"], "file": row.get("file") or row["source"], "answers": row.get("answers")}
        for row in rows
        if (row.get("file") or row.get("source")) and (split is None or row.get("split") == split)
    ]


def is_gold(gold: str, source: str) -> bool:
    return gold == source or gold.endswith("/" + source)


def measure(rag: RAG, questions: list[dict[str, Any]]) -> dict[str, float]:
    started = time.perf_counter()
    found = rag.retriever.retrieve([q["question"] for q in questions], DEPTH)
    seconds = time.perf_counter() - started
    ranks = [next((n + 1 for n, hit in enumerate(hits) if is_gold(q["file"], hit.source)), None) for q, hits in zip(questions, found)]
    total = len(questions)
    metrics = {
        "hit@1": sum(rank == 1 for rank in ranks) / total,
        "hit@5": sum(rank is not None and rank <= 5 for rank in ranks) / total,
        "mrr@10": sum(1 / rank for rank in ranks if rank) / total,
    }
    answered = [(q, hits) for q, hits in zip(questions, found) if q["answers"]]
    if answered:  # the gold answer's own text in a passage, whichever file holds it (the same text is often in several)
        for depth in (1, 5):
            share = sum(any(contains_answers(hit.text, q["answers"]) for hit in hits[:depth]) for q, hits in answered)
            metrics[f"ans@{depth}"] = share / len(answered)
    return {**metrics, "ms/q": 1000 * seconds / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", required=True, help="the store folder (a Chroma store, collection 'ragkit')")
    parser.add_argument("--questions", type=Path, action="append", required=True, help="a .jsonl or .json question set")
    parser.add_argument("--split", help="only the questions of this split (dev, test) of an answer set")
    args = parser.parse_args()
    sets = {path.name: read_questions(path, args.split) for path in args.questions}

    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, retriever in RETRIEVERS.items():
        rag = RAG.from_dict({"store": {"type": "chroma", "path": args.store}, "index": {"type": "bm25"}, "retriever": retriever})
        started = time.perf_counter()
        rag.retrieve("warm up", 1)  # the first search builds the keyword index from the store if it has none
        if not results:
            print(f"first search (with building the keyword index if missing): {time.perf_counter() - started:.1f} s, {rag.store.count()} chunks")
        results[name] = {set_name: measure(rag, questions) for set_name, questions in sets.items()}
    for set_name, questions in sets.items():
        print(f"\n{set_name} ({len(questions)} questions)")
        metrics = list(results["dense"][set_name])
        print(f"{'retriever':24}" + "".join(f"{metric:>9}" for metric in metrics))
        for name in RETRIEVERS:
            print(f"{name:24}" + "".join(f"{results[name][set_name][metric]:>9.3f}" for metric in metrics))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
