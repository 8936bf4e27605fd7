"""Question sets and their gold: reading a set, finding the gold location among hits, matching gold answers.

The rules are in ``ragkit.evaluation``'s docstring.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragkit.language import is_chinese
from ragkit.types import Hit

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
