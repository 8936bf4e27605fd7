"""Evaluation of a pipeline over a question set: retrieval hit@k and MRR, answers, abstention, latency.

A question set is JSON Lines, one object a line::

    {"question": "How many tokens ...?", "answers": ["14"], "file": "guides/tokenization.md", "page": 2}

Only ``question`` is required; other keys (``id``, ``answer_start``, ...) are
allowed, and ``id`` is carried into the results. The rules:

- **Gold location**: ``file``, and ``page`` when given. A hit is at the gold
  location when its source and ``file`` are the same path or one ends with the
  other at a ``/`` (``html/doc.html`` matches the source ``doc.html`` of a store
  that ingested the ``html`` folder, and ``corpus/html/doc.html`` of one that
  ingested the corpus' parent), and, when ``page`` is given, its page is that page.
- **Rank**: the 1-based position of the first hit at the gold location among the
  top ``k`` retrieved. hit@n is the share of questions with a gold file whose rank
  is at most n; MRR is the mean of 1/rank, 0 for a question whose gold location is
  not in the top ``k``.
- **Answers** (``"answers": [...]``, not empty): the answer is correct when it
  contains every gold item: a string, or one of a list of alternatives
  (``["APT", ["apt-get", "aptitude"]]``), compared after NFKC, case folding
  and collapsing white space.
- **Unanswerable** (``"answers": []``): the documents do not answer it, and the
  right answer is to abstain (``Answer.abstained``: no passage reached the
  prompt, the generator was not called). Without generation, a question
  abstains when retrieval returns no passage.
- **No ``answers`` key**: retrieval only.
- **False abstentions**: the share of answerable questions (gold answers or a
  gold file) on which ragkit abstained.
- **Latency**: mean seconds per question per stage: retrieve (embed + search, one
  batch at depth ``k`` for all questions, reranker included), then augment and
  generate (``answer_many``, from the pipeline's own number of those passages).
  Batched stages are timed per batch and divided among its questions.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from ragkit.evaluation.gold import (
    EvalQuestion,
    EvalSetError,
    contains_answers,
    gold_rank,
    load_questions,
    normalize_for_match,
    parse_question,
    same_file,
)
from ragkit.evaluation.report import ANSWER_STAGES, EvalReport, EvalResult
from ragkit.types import Answer, Hit

__all__ = [
    "EvalQuestion", "EvalReport", "EvalResult", "EvalSetError", "Evaluated", "contains_answers", "evaluate",
    "gold_rank", "load_questions", "normalize_for_match", "parse_question", "same_file",
]

class Evaluated(Protocol):
    """What evaluation needs of a pipeline (``RAG`` is one): its public query path, nothing inside it."""

    @property
    def top_k(self) -> int: ...

    def warm_up(self, generate: bool = True) -> None: ...

    def retrieve_many(
        self, questions: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]: ...

    def answer_many(self, questions: Sequence[str], hits: Sequence[list[Hit]]) -> list[Answer]: ...


# Questions answered per progress step. Small enough for a bar that moves on a CPU, large enough
# that a GPU still fills its generation batches well.
GENERATE_SLICE = 32


def evaluate(
    rag: Evaluated,
    questions: str | Path | Iterable[EvalQuestion | dict[str, Any]],
    *,
    k: int = 10,
    generate: bool = True,
    where: dict[str, Any] | None = None,
    progress: bool | None = None,
) -> EvalReport:
    """Run ``questions`` (a JSON Lines file, or questions) through ``rag`` and score them (see the module doc).

    Retrieval for all questions is one batched call; answers are generated in
    batches by ``rag.ask_many``. ``progress``: a bar over the answers (True),
    none (False), or a bar on a terminal (None).
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    name, items = _questions(questions)
    texts = [item.question for item in items]
    rag.warm_up(generate=generate)  # latency is that of answering, not of loading
    started = time.perf_counter()
    retrieved = rag.retrieve_many(texts, max(k, rag.top_k), where)
    latency = {"retrieve": (time.perf_counter() - started) / len(items)}
    answers: list[Answer | None] = [None] * len(items)
    if generate:
        generated = _answer(rag, texts, [hits[: rag.top_k] for hits in retrieved], progress)
        answers = list(generated)
        # What a user waits for: the stages of answering; retrieval once, at depth k, for both.
        latency |= {stage: math.fsum(a.timings[stage] for a in generated) / len(generated) for stage in ANSWER_STAGES[1:]}
    retrieved = [hits[:k] for hits in retrieved]
    results = [
        EvalResult(
            question=item,
            hits=hits,
            rank=gold_rank(hits, item.file, item.page) if item.file is not None else None,
            abstained=answer.abstained if answer is not None else not hits,
            answer=answer,
        )
        for item, hits, answer in zip(items, retrieved, answers)
    ]
    return EvalReport(name=name, k=k, generated=generate, results=results, latency=latency)


def _questions(questions: str | Path | Iterable[EvalQuestion | dict[str, Any]]) -> tuple[str, list[EvalQuestion]]:
    """The set's name for the report, and its questions checked."""
    if isinstance(questions, (str, Path)):
        return Path(questions).name, load_questions(questions)
    items = [
        item if isinstance(item, EvalQuestion) else parse_question(item, f"question {number}")
        for number, item in enumerate(questions, start=1)
    ]
    if not items:
        raise EvalSetError("no questions to evaluate")
    return "questions", items


def _answer(rag: Evaluated, questions: list[str], hits: list[list[Hit]], progress: bool | None) -> list[Answer]:
    from tqdm import tqdm

    show = progress is True or (progress is None and sys.stderr.isatty())
    answers: list[Answer] = []
    with tqdm(total=len(questions), desc="answering", unit="question", disable=not show) as bar:
        for start in range(0, len(questions), GENERATE_SLICE):
            end = start + GENERATE_SLICE
            answers.extend(rag.answer_many(questions[start:end], hits[start:end]))
            bar.update(len(questions[start:end]))
    return answers
