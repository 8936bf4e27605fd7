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

import json
import math
import sys
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ragkit.grounding import degenerate_reason
from ragkit.language import is_chinese
from ragkit.types import Answer, Hit



class Evaluated(Protocol):
    """What evaluation needs of a pipeline (``RAG`` is one): its public query path, nothing inside it."""

    @property
    def top_k(self) -> int: ...

    def warm_up(self, generate: bool = True) -> None: ...

    def retrieve_many(
        self, questions: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]: ...

    def answer_many(self, questions: Sequence[str], hits: Sequence[list[Hit]]) -> list[Answer]: ...

HIT_DEPTHS = (1, 3, 5, 10)

# The stages timed in ``Answer.timings``.
ANSWER_STAGES = ("retrieve", "augment", "generate")

# Questions answered per progress step. Small enough for a bar that moves on a CPU, large enough
# that a GPU still fills its generation batches well.
GENERATE_SLICE = 32

# A gold answer item: a string that must occur, or alternatives of which one must.
Gold = str | list[str]

EXAMPLE_LINE = '{"question": "...", "answers": ["..."], "file": "path/in/the/store.md", "page": 1}'


class EvalSetError(ValueError):
    """A question set that cannot be read, with the file and line at fault."""


@dataclass
class EvalQuestion:
    """One question of a set, with whatever gold it has (``None``: not given)."""

    question: str
    answers: list[Gold] | None = None
    file: str | None = None
    page: int | None = None
    id: str | int | None = None

    @property
    def language(self) -> str:
        """``zh`` for a question written in Chinese, else ``en``: the figures are reported per language."""
        return "zh" if is_chinese(self.question) else "en"

    @property
    def unanswerable(self) -> bool:
        """The set says the documents do not answer it (``"answers": []``)."""
        return self.answers == []

    @property
    def answerable(self) -> bool:
        return bool(self.answers) or self.file is not None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "answers": self.answers, "file": self.file, "page": self.page}


def load_questions(path: str | Path) -> list[EvalQuestion]:
    """Read a JSON Lines question set; blank lines are skipped, a bad line fails with its number."""
    path = Path(path)
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalSetError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        questions.append(parse_question(data, where))
    if not questions:
        raise EvalSetError(f"{path}: no questions; write one JSON object a line, e.g. {EXAMPLE_LINE}")
    return questions


def parse_question(data: Any, where: str) -> EvalQuestion:
    """Check one question's object; ``where`` names it in errors (``file, line N``)."""
    if not isinstance(data, dict):
        raise EvalSetError(f"{where}: expected a JSON object like {EXAMPLE_LINE}, got {type(data).__name__}")
    question = data.get("question")
    if not isinstance(question, str) or not question.strip():
        raise EvalSetError(f"{where}: 'question' must be a non-empty string")
    if "answer" in data and "answers" not in data:
        raise EvalSetError(f"{where}: unknown key 'answer'; gold answers go in 'answers', a list of strings")
    answers = data.get("answers")
    if answers is not None and not (isinstance(answers, list) and all(_gold_item(item) for item in answers)):
        raise EvalSetError(
            f"{where}: 'answers' must be a list of non-empty strings (or of lists of alternative strings),"
            " or [] for a question the documents do not answer"
        )
    gold_file = data.get("file")
    if gold_file is not None and (not isinstance(gold_file, str) or not gold_file.strip()):
        raise EvalSetError(f"{where}: 'file' must be a non-empty path, as the store's sources are")
    page = data.get("page")
    if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
        raise EvalSetError(f"{where}: 'page' must be a page number from 1, or absent")
    if page is not None and gold_file is None:
        raise EvalSetError(f"{where}: 'page' needs a 'file'")
    question_id = data.get("id")
    if question_id is not None and (isinstance(question_id, bool) or not isinstance(question_id, (str, int))):
        raise EvalSetError(f"{where}: 'id' must be a string or a number")
    return EvalQuestion(question, answers, gold_file, page, question_id)


def _gold_item(item: Any) -> bool:
    options = [item] if isinstance(item, str) else item
    return isinstance(options, list) and bool(options) and all(isinstance(o, str) and o.strip() for o in options)


# metrics -----------------------------------------------------------------------


def same_file(source: str, gold: str) -> bool:
    """Whether two paths name the same file: equal, or one a suffix of the other at a ``/``."""
    ours, theirs = _path_parts(source), _path_parts(gold)
    shorter, longer = sorted((ours, theirs), key=len)
    return bool(shorter) and longer[len(longer) - len(shorter) :] == shorter


def _path_parts(path: str) -> list[str]:
    return [part for part in path.replace("\\", "/").split("/") if part not in ("", ".")]


def gold_rank(hits: Sequence[Hit], gold_file: str, page: int | None = None) -> int | None:
    """The 1-based rank of the first hit at the gold location, or None if no hit is there."""
    for rank, hit in enumerate(hits, start=1):
        if same_file(hit.source, gold_file) and (page is None or hit.page == page):
            return rank
    return None


def hit_at(rank: int | None, depth: int) -> bool:
    return rank is not None and rank <= depth


def reciprocal_rank(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / rank


def normalize_for_match(text: str) -> str:
    """NFKC, case-folded, white space runs as one space: full-width digits, case and line breaks do not count."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def contains_answers(text: str, answers: Sequence[Gold]) -> bool:
    """Every gold item is in ``text``: a string itself, a list of alternatives any one of them (see ``normalize_for_match``)."""
    folded = normalize_for_match(text)
    return all(
        any(normalize_for_match(option) in folded for option in ([item] if isinstance(item, str) else item))
        for item in answers
    )


# results -----------------------------------------------------------------------


@dataclass
class EvalResult:
    """One question's outcome: its top-k hits and gold rank, and the answer when one was generated."""

    question: EvalQuestion
    hits: list[Hit]
    rank: int | None
    abstained: bool
    answer: Answer | None = None

    @property
    def answer_correct(self) -> bool | None:
        """None when the question has no gold answers or no answer was generated."""
        if not self.question.answers or self.answer is None:
            return None
        return not self.abstained and contains_answers(self.answer.text, self.question.answers)

    @property
    def abstention_correct(self) -> bool | None:
        """None unless the documents do not answer the question."""
        return self.abstained if self.question.unanswerable else None

    @property
    def cited_gold(self) -> bool | None:
        """Whether the answer cites a passage from the gold file; None without both."""
        if self.question.file is None or self.answer is None or self.abstained:
            return None
        gold_file = self.question.file
        return any(same_file(citation.source, gold_file) for citation in self.answer.citations)

    @property
    def verified_citation(self) -> bool | None:
        """For a correct answer: whether a passage it cites holds every gold string; None otherwise."""
        if not self.answer_correct or self.answer is None:
            return None
        cited = {citation.hit_id for citation in self.answer.citations}
        answers = self.question.answers or []
        return any(hit.id in cited and contains_answers(hit.text, answers) for hit in self.answer.sources)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            **self.question.to_dict(),
            "rank": self.rank,
            "abstained": self.abstained,
            "answer_correct": self.answer_correct,
            "abstention_correct": self.abstention_correct,
            "hits": [{"source": hit.source, "page": hit.page, "score": round(hit.score, 4)} for hit in self.hits],
        }
        if self.answer is not None:
            data["answer"] = self.answer.text
            data["citations"] = [citation.to_dict() for citation in self.answer.citations]
            data["invalid_citations"] = self.answer.invalid_citations
            data["cited_gold"] = self.cited_gold
            data["verified_citation"] = self.verified_citation
            data["grounded"] = self.answer.grounded
            data["support"] = round(self.answer.support, 4)
            data["repaired"] = self.answer.repaired
            data["draft"] = self.answer.draft
        return data


@dataclass
class EvalReport:
    """Per-question results and the aggregate figures of one evaluation run."""

    name: str
    k: int
    generated: bool
    results: list[EvalResult]
    latency: dict[str, float] = field(default_factory=dict)  # mean seconds per question, by stage

    @property
    def depths(self) -> list[int]:
        return sorted({depth for depth in HIT_DEPTHS if depth <= self.k} | {self.k})

    def metrics(self) -> dict[str, Any]:
        """Each figure with the number of questions it is over; a figure over no question is None.

        With more than one language among the questions, ``by_language`` holds
        the answer and abstention figures of each.
        """
        metrics = _figures(self.results, self.depths, self.generated)
        languages = sorted({result.question.language for result in self.results})
        if len(languages) > 1:
            metrics["by_language"] = {
                language: _figures([r for r in self.results if r.question.language == language], [], self.generated)
                for language in languages
            }
        return metrics

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "k": self.k,
            "generated": self.generated,
            "metrics": _rounded(self.metrics()),
            "latency_seconds": {stage: round(seconds, 5) for stage, seconds in self.latency.items()},
            "results": [result.to_dict() for result in self.results],
        }

    def table(self) -> str:
        """The figures as an aligned table for a terminal; a figure over no question is left out."""
        metrics = self.metrics()
        mode = "answers generated" if self.generated else "retrieval only"
        rows: list[tuple[str, str, str]] = []
        retrieval = metrics["retrieval"]
        if retrieval["questions"]:
            over = f"{retrieval['questions']} questions with a gold file"
            for depth in self.depths:
                rows.append((f"hit@{depth}", _share(retrieval[f"hit@{depth}"]), over))
                over = ""
            rows.append((f"MRR@{self.k}", f"{retrieval['mrr']:.3f}", ""))
        rows += _answer_rows(metrics)
        for language, figures in metrics.get("by_language", {}).items():
            rows += [(f"{language}: {label}", value, over) for label, value, over in _answer_rows(figures)[:3]]
        for stage, seconds in self.latency.items():
            rows.append((f"latency: {stage}", f"{seconds * 1000:.1f} ms", "mean per question"))
        width = max(len(row[0]) for row in rows) if rows else 0
        value_width = max(len(row[1]) for row in rows) if rows else 0
        lines = [f"{self.name}: {metrics['questions']} questions, top {self.k} retrieved, {mode}", ""]
        lines += [f"  {label:<{width}}  {value:>{value_width}}  {over}".rstrip() for label, value, over in rows]
        return "\n".join(lines)


def _answer_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Table rows for the answer figures: accuracy, abstention and false abstentions first, then citations."""
    rows: list[tuple[str, str, str]] = []
    answers, abstention, wrongly = metrics["answers"], metrics["abstention"], metrics["false_abstention"]
    if answers["questions"]:
        rows.append(("answer accuracy", _share(answers["accuracy"]), f"{answers['questions']} with gold answers"))
    if abstention["questions"]:
        rows.append(("abstention accuracy", _share(abstention["accuracy"]), f"{abstention['questions']} unanswerable"))
    if wrongly["questions"]:
        rows.append(("false abstentions", _share(wrongly["rate"]), f"{wrongly['questions']} answerable"))
    citations, grounding = metrics.get("citations"), metrics.get("grounding")
    if citations and citations["answers"]:
        rows.append(("answers citing a passage", _share(citations["citing"]), f"{citations['answers']} answers"))
        if citations["gold_file_questions"]:
            over = f"{citations['gold_file_questions']} answers"
            rows.append(("citing the gold file", _share(citations["gold_file_cited"]), over))
        if citations["correct_answers"]:
            over = f"{citations['correct_answers']} correct answers"
            rows.append(("correct with a verified citation", _share(citations["correct_with_verified_citation"]), over))
        rows.append(("invalid citations", str(citations["invalid"]), "dropped"))
    if grounding and grounding["answers"]:
        rows.append(("grounded", _share(grounding["grounded"]), f"{grounding['answers']} answers"))
        rows.append(("degenerate replies", str(grounding["degenerate"]), f"{grounding['repaired']} repaired"))
    return rows


def _figures(results: Sequence[EvalResult], depths: Sequence[int], generated: bool) -> dict[str, Any]:
    ranked = [result for result in results if result.question.file is not None]
    retrieval: dict[str, Any] = {"questions": len(ranked)}
    for depth in depths:
        retrieval[f"hit@{depth}"] = _mean([hit_at(result.rank, depth) for result in ranked])
    if depths:
        retrieval["mrr"] = _mean([reciprocal_rank(result.rank) for result in ranked])
    answered = [result.answer_correct for result in results if result.answer_correct is not None]
    abstentions = [result.abstention_correct for result in results if result.abstention_correct is not None]
    answerable = [result.abstained for result in results if result.question.answerable]
    metrics: dict[str, Any] = {
        "questions": len(results),
        "retrieval": retrieval,
        "answers": {"questions": len(answered), "accuracy": _mean(answered)},
        "abstention": {"questions": len(abstentions), "accuracy": _mean(abstentions)},
        "false_abstention": {"questions": len(answerable), "rate": _mean(answerable)},
    }
    if generated:
        given = [result.answer for result in results if result.answer and not result.abstained]
        cited_gold = [result.cited_gold for result in results if result.cited_gold is not None]
        verified = [result.verified_citation for result in results if result.verified_citation is not None]
        metrics["citations"] = {
            "answers": len(given),
            "citing": _mean([bool(answer.citations) for answer in given]),
            "invalid": sum(result.answer.invalid_citations for result in results if result.answer),
            "gold_file_cited": _mean(cited_gold),
            "gold_file_questions": len(cited_gold),
            "correct_with_verified_citation": _mean(verified),
            "correct_answers": len(verified),
        }
        metrics["grounding"] = {
            "answers": len(given),
            "grounded": _mean([answer.grounded for answer in given]),
            "repaired": sum(1 for result in results if result.answer and result.answer.repaired),
            "degenerate": sum(1 for answer in given if degenerate_reason(answer.text, answer.question, answer.sources)),
        }
    return metrics


def _mean(values: Sequence[bool | float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _rounded(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _rounded(value) for key, value in data.items()}
    return round(data, 4) if isinstance(data, float) else data


# running -----------------------------------------------------------------------


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
