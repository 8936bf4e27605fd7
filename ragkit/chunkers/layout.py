"""A document cut once into atoms (words, or blocks of a word too long to keep whole), counted in one batch.

Splitting, merging and overlap (``ragkit.chunkers.spans``) then work on the
atoms' offsets and sums of their counts, so a document is never re-tokenized
piece by piece.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Literal, NamedTuple

from ragkit.chunkers.base import TokenCounter

Unit = Literal["tokens", "characters"]

# Boundary strengths, strongest first: the order in which the recursive splitter cuts.
PARAGRAPH, LINE, SENTENCE, WORD, CHAR = range(5)

_FULL_WIDTH_ENDS = "。！？；"
_CLOSERS = "\"'”’」』）》)]"
_SENTENCE_ENDS = ".!?" + _FULL_WIDTH_ENDS
# Non-space text, also cut after full-width sentence punctuation: Chinese puts no space there.
_ATOM = re.compile(
    rf"(?=\S)[^\s{re.escape(_FULL_WIDTH_ENDS)}]*"
    rf"(?:[{re.escape(_FULL_WIDTH_ENDS)}]+[{re.escape(_CLOSERS)}]*)?"
)


class Span(NamedTuple):
    """Characters ``start:end`` of the document and their token count (a sum of atom counts)."""

    start: int
    end: int
    tokens: int


class Budget(NamedTuple):
    """What one chunk or piece may hold: ``tokens`` tokens, and ``chars`` characters unless None."""

    chars: int | None
    tokens: int

    def fits(self, chars: int, tokens: int) -> bool:
        return tokens <= self.tokens and (self.chars is None or chars <= self.chars)


def measure(unit: Unit, chars: int, tokens: int) -> int:
    return tokens if unit == "tokens" else chars


def count_distinct(counter: TokenCounter, texts: Sequence[str]) -> list[int]:
    """Token counts of ``texts``, asking once per distinct text: prose repeats its words a lot."""
    if not texts:
        return []
    distinct = list(dict.fromkeys(texts))
    counts = dict(zip(distinct, counter.count_tokens(distinct), strict=True))
    return [counts[text] for text in texts]


def _ends_sentence(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` ends with sentence punctuation, closing quotes or brackets aside."""
    while end > start and text[end - 1] in _CLOSERS:
        end -= 1
    return end > start and text[end - 1] in _SENTENCE_ENDS


class Layout:
    """A document cut into atoms, with the strength of every boundary between neighbours.

    Atoms are words; a word that alone does not fit ``budget`` is cut into
    character blocks that do, which is what handles long CJK runs without
    punctuation and unbroken strings. ``levels[k]`` is the strength of the
    boundary after atom ``k``; ``sentence_ends[k]`` whether a sentence ends there
    (a single line break does not end one: PDF and wrapped text break lines mid-sentence).
    """

    def __init__(self, text: str, counter: TokenCounter, budget: Budget) -> None:
        self.text = text
        self._counter = counter
        self._char_tokens: dict[str, int] = {}
        words = [match.span() for match in _ATOM.finditer(text)]
        counts = count_distinct(counter, [text[start:end] for start, end in words])
        self.atoms: list[Span] = []
        self.levels: list[int] = []
        self.sentence_ends: list[bool] = []
        for index, ((start, end), tokens) in enumerate(zip(words, counts, strict=True)):
            if budget.fits(end - start, tokens):
                self.atoms.append(Span(start, end, tokens))
            else:
                blocks = self._blocks(start, end, budget)
                self.atoms += blocks
                self.levels += [CHAR] * (len(blocks) - 1)
                self.sentence_ends += [False] * (len(blocks) - 1)
            if index + 1 < len(words):
                gap = text[end : words[index + 1][0]]
                breaks = gap.count("\n")
                ends_sentence = _ends_sentence(text, start, end)
                level = PARAGRAPH if breaks > 1 else LINE if breaks else SENTENCE if ends_sentence else WORD
                self.levels.append(level)
                self.sentence_ends.append(breaks > 1 or ends_sentence)
        self._prefix = [0, *accumulate(atom.tokens for atom in self.atoms)]
        self._ends = [atom.end for atom in self.atoms]

    def char_tokens(self, char: str) -> int:
        """Tokens of one character alone; counted for the whole document at once, on first need."""
        if not self._char_tokens:
            chars = list(dict.fromkeys(self.text))
            self._char_tokens = dict(zip(chars, self._counter.count_tokens(chars), strict=True))
        return self._char_tokens[char]

    def _blocks(self, start: int, end: int, budget: Budget) -> list[Span]:
        """The longest character runs of one over-long word that fit ``budget``, by per-character counts."""
        blocks: list[Span] = []
        block_start, tokens = start, 0
        for pos in range(start, end):
            char_tokens = self.char_tokens(self.text[pos])
            if pos > block_start and not budget.fits(pos + 1 - block_start, tokens + char_tokens):
                blocks.append(Span(block_start, pos, tokens))
                block_start, tokens = pos, 0
            tokens += char_tokens
        blocks.append(Span(block_start, end, tokens))
        return blocks

    def span(self, first: int, stop: int) -> Span:
        """Atoms ``first:stop`` as one span."""
        return Span(
            self.atoms[first].start, self.atoms[stop - 1].end, self._prefix[stop] - self._prefix[first]
        )

    def split(self, first: int, stop: int, level: int, budget: Budget) -> list[Span]:
        """Atoms ``first:stop`` as pieces that fit ``budget``, cut at the strongest boundaries that do."""
        whole = self.span(first, stop)
        if stop - first == 1 or budget.fits(whole.end - whole.start, whole.tokens):
            return [whole]
        pieces: list[Span] = []
        start = first
        for k in range(first, stop - 1):
            if self.levels[k] <= level:
                pieces += self.split(start, k + 1, level + 1, budget)
                start = k + 1
        return pieces + self.split(start, stop, level + 1, budget)

    def sentences(self) -> list[tuple[int, int]]:
        """Atom ranges ``(first, stop)`` of the sentences, in order."""
        ranges: list[tuple[int, int]] = []
        start = 0
        for k, ends in enumerate(self.sentence_ends):
            if ends:
                ranges.append((start, k + 1))
                start = k + 1
        ranges.append((start, len(self.atoms)))
        return ranges

    def tail(self, units: Sequence[Span], overlap: int, unit: Unit) -> list[Span]:
        """The overlap after a chunk made of ``units``: its last whole words measuring at most
        ``overlap`` or, where its last word alone is longer, the characters that end it."""
        start, end = units[0].start, units[-1].end
        first, last = bisect_right(self._ends, start), bisect_left(self._ends, end)
        words = trailing(self.atoms[first : last + 1], overlap, unit)
        if words or overlap == 0:
            return words
        pos, tokens = end, 0
        lowest = max(start + 1, self.atoms[last].start)
        while pos > lowest:
            char_tokens = self.char_tokens(self.text[pos - 1])
            if measure(unit, end - pos + 1, tokens + char_tokens) > overlap:
                break
            pos, tokens = pos - 1, tokens + char_tokens
        return [Span(pos, end, tokens)] if pos < end else []

    def halve(self, start: int, end: int) -> list[tuple[int, int]]:
        """``start:end`` in two, cut at its middle word boundary, or mid-word when it is one word."""
        first, last = bisect_right(self._ends, start), bisect_left(self._ends, end)
        if first < last:
            k = (first + last) // 2
            return [(start, self.atoms[k].end), (self.atoms[k + 1].start, end)]
        middle = (start + end) // 2
        return [(start, middle), (middle, end)]


def trailing(units: Sequence[Span], overlap: int, unit: Unit) -> list[Span]:
    """The most whole units at the end of ``units`` measuring at most ``overlap`` together.

    Never the first unit, so a chunk is never repeated whole inside the next.
    """
    if not overlap:
        return []
    k, tokens = len(units), 0
    while k > 1:
        tokens += units[k - 1].tokens
        if measure(unit, units[-1].end - units[k - 1].start, tokens) > overlap:
            break
        k -= 1
    return list(units[k:])
