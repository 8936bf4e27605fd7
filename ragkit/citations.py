"""Reading citations out of an answer: which numbered prompt passages ``[n]`` the model says it used.

The template augmenter numbers passages from 1; models cite them as ``[1]``,
``[1, 3]``, ``[1][3]``, ``[1-3]``, ``[passage 2]`` or, answering in Chinese,
``【1】``, ``［１］`` and ``[1、2]``. Anything else in brackets (words, a
character class like ``[0-255]``, an index like ``a[i]``) is not a citation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from ragkit.types import Citation, Hit

# A range of more numbers than this is not a citation list but something like ``[0-255]``.
MAX_RANGE = 20

# NFKC turns full-width brackets, digits and commas into ASCII; these have no such mapping.
_BRACKETS = str.maketrans({"【": "[", "】": "]", "〔": "[", "〕": "]"})
_BRACKETED = re.compile(r"\[([^\[\]\n]{1,60})\]")
_WORD = r"(?:(?:passages?|sources?|refs?\.?)\s*)?"
_ITEM = r"\d{1,4}(?:\s*[-–—~]\s*\d{1,4})?"
_SEPARATOR = r"\s*(?:,|;|、|and|&)\s*"
_CITATION_LIST = re.compile(rf"\s*{_WORD}{_ITEM}(?:{_SEPARATOR}{_WORD}{_ITEM})*\s*", re.IGNORECASE)
_NUMBER_OR_RANGE = re.compile(r"(\d+)(?:\s*[-–—~]\s*(\d+))?")


def cited_numbers(text: str) -> list[int]:
    """The passage numbers ``text`` cites, each once, in the order it first cites them."""
    normalized = unicodedata.normalize("NFKC", text).translate(_BRACKETS)
    numbers: dict[int, None] = {}  # an ordered set
    for bracketed in _BRACKETED.finditer(normalized):
        inside = bracketed.group(1)
        if not _CITATION_LIST.fullmatch(inside):
            continue
        items = _NUMBER_OR_RANGE.finditer(inside)
        spans = [(int(item.group(1)), int(item.group(2) or item.group(1))) for item in items]
        if any(last - first + 1 > MAX_RANGE for first, last in spans):
            continue
        for first, last in spans:
            numbers.update(dict.fromkeys(range(first, last + 1) if first <= last else (first, last)))
    return list(numbers)


def resolve_citations(text: str, passages: Sequence[Hit]) -> tuple[list[Citation], int]:
    """The passages ``text`` cites (``[n]`` is ``passages[n - 1]``), and how many cited numbers have none.

    Numbers outside 1..len(passages) cite a passage the model was never given:
    they are dropped from the citations and counted, each distinct number once.
    """
    citations: list[Citation] = []
    invalid = 0
    for number in cited_numbers(text):
        if 1 <= number <= len(passages):
            hit = passages[number - 1]
            citations.append(Citation(number=number, source=hit.source, page=hit.page, hit_id=hit.id))
        else:
            invalid += 1
    return citations, invalid
