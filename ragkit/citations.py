"""Reading citations out of an answer: which numbered prompt passages ``[n]`` the model says it used.

The template augmenter numbers passages from 1; models cite them as ``[1]``,
``[1, 3]``, ``[1][3]``, ``[1-3]``, ``[passage 2]`` or, answering in Chinese,
``【1】``, ``［１］`` and ``[1、2]``. Anything else in brackets (words, a
character class like ``[0-255]``, an index like ``a[i]``) is not a citation.
"""

from __future__ import annotations

import re
import unicodedata


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
    numbers: dict[int, None] = {}  # an ordered set
    for bracketed in _BRACKETED.finditer(_normalized(text)):
        for first, last in _citation_spans(bracketed.group(1)) or ():
            numbers.update(dict.fromkeys(range(first, last + 1) if first <= last else (first, last)))
    return list(numbers)


def strip_citations(text: str) -> str:
    """``text`` without its citation markers (what ``cited_numbers`` reads), other brackets kept."""
    return _BRACKETED.sub(lambda match: "" if _citation_spans(match.group(1)) else match.group(0), _normalized(text))


def _normalized(text: str) -> str:
    return unicodedata.normalize("NFKC", text).translate(_BRACKETS)


def _citation_spans(inside: str) -> list[tuple[int, int]] | None:
    """The (first, last) numbers of a bracket's citation list, or None when the bracket holds no citation."""
    if not _CITATION_LIST.fullmatch(inside):
        return None
    spans = [(int(item.group(1)), int(item.group(2) or item.group(1))) for item in _NUMBER_OR_RANGE.finditer(inside)]
    return None if any(last - first + 1 > MAX_RANGE for first, last in spans) else spans
