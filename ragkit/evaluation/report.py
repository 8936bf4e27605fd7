"""What an evaluation found: each question's outcome, and the figures over a set, per language."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ragkit.evaluation.gold import EvalQuestion, contains_answers, hit_at, reciprocal_rank, same_file
from ragkit.grounding import degenerate_reason
from ragkit.types import Answer, Hit

HIT_DEPTHS = (1, 3, 5, 10)

# The stages timed in ``Answer.timings``.
ANSWER_STAGES = ("retrieve", "augment", "generate")


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
