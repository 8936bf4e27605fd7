"""Calibrate the abstention threshold: the top-1 dense cosine below which ragkit should not answer.

    python benchmarks/calibrate.py debian --store STORE   # a store of the Debian corpus' html/ folder
                                        [--dev-set FILE] # default: ../shared/eval/dev_debian_faq.jsonl
    python benchmarks/calibrate.py sample                 # ingests sample_docs/ into a scratch store

Each run retrieves, with the dense retriever and no threshold, the best passage for questions the
documents answer and for questions they do not, then sweeps thresholds t: a question is kept
(answered) when its top-1 cosine is at least t and abstained otherwise. For each t it prints the
share of answerable questions kept, the share of unanswerable ones abstained, and their mean,
the balanced accuracy, which weighs both kinds of error equally whatever the sizes of the two sets.
It then picks two thresholds:

- the one with the best balanced accuracy;
- the one with the best balanced accuracy among those that keep at least ``--min-kept`` (0.99) of
  the answerable questions: the criterion for a default, because a wrong abstention hides an
  answer the documents have, while a wrong answer still comes from a prompt that tells the model
  to say when the passages do not contain the answer.

Among equally good thresholds the lowest is taken, and the range that scores the same is printed too.

- debian: the answerable questions are ../shared/eval/dev_debian_faq.jsonl (Debian FAQ headings),
  the unanswerable ones benchmarks/eval/debian_unanswerable.jsonl (off-topic, and near-domain:
  other distributions' tools, software the corpus does not document). STORE must be a store of the
  corpus' html/ folder built with the pipeline's embedder; give it a copy if others use it.
- sample: the answerable questions are tests/e2e_questions.json, the unanswerable ones
  benchmarks/eval/sample_docs_unanswerable.jsonl.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragkit.evaluation import EvalQuestion, load_questions  # noqa: E402
from ragkit.pipeline import RAG  # noqa: E402

DEV_SET = REPO.parent / "shared" / "eval" / "dev_debian_faq.jsonl"
SAMPLE_QUESTIONS = REPO / "tests" / "e2e_questions.json"
UNANSWERABLE = {
    "debian": REPO / "benchmarks" / "eval" / "debian_unanswerable.jsonl",
    "sample": REPO / "benchmarks" / "eval" / "sample_docs_unanswerable.jsonl",
}
# Dense retrieval with no threshold of its own, whatever the pipeline file says.
# Dense scores with no threshold of any kind: the sweep itself plays the threshold.
DENSE = {"retriever": {"type": "dense", "score_threshold": None, "abstain_below": None}}
GRID_STEP = 0.025


@dataclass
class Point:
    threshold: float
    kept: float  # share of answerable questions answered
    abstained: float  # share of unanswerable questions abstained

    @property
    def balanced_accuracy(self) -> float:
        return (self.kept + self.abstained) / 2


def sweep(answerable: list[float], unanswerable: list[float], thresholds: list[float]) -> list[Point]:
    return [
        Point(
            threshold,
            sum(score >= threshold for score in answerable) / len(answerable),
            sum(score < threshold for score in unanswerable) / len(unanswerable),
        )
        for threshold in thresholds
    ]


def best(answerable: list[float], unanswerable: list[float], min_kept: float = 0.0) -> tuple[Point, float, float]:
    """The best balanced accuracy among thresholds keeping ``min_kept`` of the answerable questions.

    Returns its lowest threshold and the range (low, high] of thresholds that
    score the same. The figures only change at the scores themselves, so the
    candidates are the midpoints between neighbouring scores.
    """
    scores = sorted(set(answerable) | set(unanswerable))
    bounds = list(zip([scores[0] - 0.01, *scores], [*scores, scores[-1] + 0.01]))  # (low, high] gaps
    points = sweep(answerable, unanswerable, [(low + high) / 2 for low, high in bounds])
    allowed = [(point, gap) for point, gap in zip(points, bounds) if point.kept >= min_kept]
    top = max(point.balanced_accuracy for point, _ in allowed)
    tied = [(point, gap) for point, gap in allowed if point.balanced_accuracy == top]
    return tied[0][0], tied[0][1][0], tied[-1][1][1]


def top_scores(rag: RAG, questions: list[EvalQuestion]) -> list[float]:
    hits = rag.retriever.retrieve([item.question for item in questions], 1)
    return [found[0].score if found else float("-inf") for found in hits]


def sample_questions() -> list[EvalQuestion]:
    items = json.loads(SAMPLE_QUESTIONS.read_text(encoding="utf-8"))
    return [EvalQuestion(item["question"], [item["answer"]], item["source"], item["page"]) for item in items]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", choices=["debian", "sample"])
    parser.add_argument("--store", type=Path, help="debian: the store of the corpus' html/ folder")
    parser.add_argument("--dev-set", type=Path, default=DEV_SET, help=f"debian: answerable questions (default {DEV_SET})")
    parser.add_argument("--pipeline", type=Path, default=REPO / "pipelines" / "dense.yaml")
    parser.add_argument("--min-kept", type=float, default=0.99, help="share of answerable questions a default keeps")
    parser.add_argument("--json", type=Path, help="also write the scores and the chosen thresholds here")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="ragkit-calibrate-"))
    try:
        if args.corpus == "debian":
            if args.store is None:
                parser.error("debian needs --store, a store of the corpus' html/ folder")
            rag = RAG.from_yaml(args.pipeline, overrides={**DENSE, "store": {"path": str(args.store)}})
            answerable = load_questions(args.dev_set)
        else:
            rag = RAG.from_yaml(args.pipeline, overrides={**DENSE, "store": {"path": str(scratch / "store")}})
            rag.ingest(REPO / "sample_docs", progress=False)
            answerable = sample_questions()
        unanswerable = load_questions(UNANSWERABLE[args.corpus])
        kept_scores, none_scores = top_scores(rag, answerable), top_scores(rag, unanswerable)
        report(args.corpus, rag, answerable, unanswerable, kept_scores, none_scores, args.min_kept, args.json)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def report(
    corpus: str,
    rag: RAG,
    answerable: list[EvalQuestion],
    unanswerable: list[EvalQuestion],
    kept_scores: list[float],
    none_scores: list[float],
    min_kept: float,
    json_path: Path | None,
) -> None:
    print(f"{corpus}: {rag.stats()['chunks']} chunks; {len(answerable)} answerable, {len(unanswerable)} unanswerable")
    for name, scores in (("answerable", kept_scores), ("unanswerable", none_scores)):
        ordered = sorted(scores)
        quartiles = [ordered[round(q * (len(ordered) - 1))] for q in (0, 0.25, 0.5, 0.75, 1)]
        print(f"  top-1 cosine, {name:>12}: min {quartiles[0]:.3f}  q1 {quartiles[1]:.3f}  median {quartiles[2]:.3f}"
              f"  q3 {quartiles[3]:.3f}  max {quartiles[4]:.3f}")
    low = GRID_STEP * int(min(kept_scores + none_scores) / GRID_STEP)
    high = max(kept_scores + none_scores)
    grid = [round(low + GRID_STEP * step, 3) for step in range(int((high - low) / GRID_STEP) + 2)]
    print("\n  threshold  answerable kept  unanswerable abstained  balanced accuracy")
    for point in sweep(kept_scores, none_scores, grid):
        print(f"  {point.threshold:9.3f}  {point.kept:15.3f}  {point.abstained:22.3f}  {point.balanced_accuracy:17.3f}")
    chosen: dict[str, Any] = {}
    for name, floor in (("best balanced accuracy", 0.0), (f"best keeping >= {min_kept:g} of answerable", min_kept)):
        point, low, high = best(kept_scores, none_scores, floor)
        wrong = [q.question for q, s in zip(answerable, kept_scores) if s < point.threshold]
        leaked = [q.question for q, s in zip(unanswerable, none_scores) if s >= point.threshold]
        print(
            f"\n  {name}: threshold {point.threshold:.3f} (the same for any above {low:.3f}, up to {high:.3f}),"
            f" balanced accuracy {point.balanced_accuracy:.3f}: {point.kept:.3f} of answerable kept,"
            f" {point.abstained:.3f} of unanswerable abstained"
        )
        print(f"    abstained although answerable ({len(wrong)}): {wrong}")
        print(f"    answered although unanswerable ({len(leaked)}): {leaked}")
        chosen[name] = {**vars(point), "above": low, "up_to": high, "balanced_accuracy": point.balanced_accuracy}
    if json_path:
        data: dict[str, Any] = {
            "corpus": corpus,
            "answerable": [{"question": q.question, "top1": s} for q, s in zip(answerable, kept_scores)],
            "unanswerable": [{"question": q.question, "top1": s} for q, s in zip(unanswerable, none_scores)],
            "chosen": chosen,
        }
        json_path.write_text(json.dumps(data, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
