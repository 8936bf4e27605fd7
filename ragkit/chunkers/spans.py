"""Splitting and merging shared by the chunkers, done on character offsets.

A document is cut once into atoms (words, or character blocks of words too
long to keep whole) and the atoms are counted in one batch. Splitting, merging
and overlap then work on offsets and sums of those counts, so a large document
is never re-tokenized piece by piece; for WordPiece the sums are exact because
whitespace-separated pieces are tokenized independently. Only the finished
chunks are counted again, to hold the embedder's limit on their real text.

The layout costs about a hundred bytes per character, so a document longer
than ``SECTION_CHARS`` is laid out one section at a time and its chunks come
out lazily: memory is bounded by the section, not by the document. Each
section but the last gives up its last chunk, and the next section starts
where that chunk started, so the overlap runs on across the cut.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from itertools import accumulate
from typing import ClassVar, Literal, NamedTuple

from pydantic import Field, model_validator

from ragkit.chunkers.base import TokenCounter
from ragkit.stage import StageConfig
from ragkit.types import Chunk, Document

logger = logging.getLogger(__name__)

Unit = Literal["tokens", "characters"]

# Boundary strengths, strongest first: the order in which the recursive splitter cuts.
PARAGRAPH, LINE, SENTENCE, WORD, CHAR = range(5)

_FULL_WIDTH_ENDS = "。！？；"
_CLOSERS = "\"'”’」』）》)]"
_SENTENCE_ENDS = ".!?" + _FULL_WIDTH_ENDS
# Characters laid out at once (about 13 MB of layout); a section is cut at a paragraph break,
# a line break or a space in its second half where there is one, else at this length.
SECTION_CHARS = 100_000
# In token units a chunk also holds at most this many characters per token of its size: a
# tokenizer counts a long unbroken string as one unknown token, which alone would let a
# 50 MB line without spaces through as one "one-token" chunk. Prose has about 4-5 characters a token.
MAX_CHARS_PER_TOKEN = 10
# Non-space text, also cut after full-width sentence punctuation: Chinese puts no space there.
_ATOM = re.compile(
    rf"(?=\S)[^\s{re.escape(_FULL_WIDTH_ENDS)}]*"
    rf"(?:[{re.escape(_FULL_WIDTH_ENDS)}]+[{re.escape(_CLOSERS)}]*)?"
)


class ChunkerConfig(StageConfig):
    """Chunk size and overlap, in the embedder's tokens or in characters."""

    size: int = Field(200, gt=0, description="most tokens (or characters) in one chunk")
    overlap: int = Field(30, ge=0, description="how much of the end of a chunk the next one repeats")
    unit: Unit = "tokens"

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkerConfig:
        if self.overlap >= self.size:
            raise ValueError(
                f"overlap ({self.overlap}) must be smaller than size ({self.size}): "
                "a chunk has to bring some new text, not only repeat the previous one"
            )
        return self


class Span(NamedTuple):
    """Characters ``start:end`` of the document and their token count (a sum of atom counts)."""

    start: int
    end: int
    tokens: int


class Sizes(NamedTuple):
    """Chunk size and overlap, in the configured unit."""

    size: int
    overlap: int


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


def section_end(text: str, start: int, limit: int) -> int:
    """Where the section of ``text`` from ``start`` ends: at most ``limit`` characters on, at the
    strongest boundary in its second half (paragraph, line, space), else hard at ``limit``."""
    end = start + limit
    if end >= len(text):
        return len(text)
    for boundary in ("\n\n", "\n", " "):
        cut = text.rfind(boundary, start + limit // 2, end)
        if cut >= 0:
            return cut + len(boundary)
    return end


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


def merge(pieces: Sequence[Span], budget: Budget, tail_of: Callable[[list[Span]], list[Span]]) -> list[Span]:
    """Greedily pack neighbouring pieces into chunks that fit ``budget``.

    Each chunk after the first opens with ``tail_of`` the previous chunk's
    units, shortened from the front only where the next piece would not fit otherwise.
    """
    chunks: list[Span] = []
    tail: list[Span] = []
    index = 0
    while index < len(pieces):
        piece = pieces[index]
        while tail and not budget.fits(piece.end - tail[0].start, sum(t.tokens for t in tail) + piece.tokens):
            tail.pop(0)
        units = [*tail, piece]
        start, tokens = units[0].start, sum(unit.tokens for unit in units)
        index += 1
        while index < len(pieces) and budget.fits(pieces[index].end - start, tokens + pieces[index].tokens):
            units.append(pieces[index])
            tokens += pieces[index].tokens
            index += 1
        chunks.append(Span(start, units[-1].end, tokens))
        tail = tail_of(units)
    return chunks


class SpanChunker(ABC):
    """What both chunkers share: sizing, the layout, merging with overlap and the final token check.

    Subclasses say how a document becomes pieces (``_pieces``), what budget a
    single word must fit before it is cut into characters (``_piece_budget``)
    and what a chunk hands the next as overlap (``_tail``).
    """

    Config: ClassVar[type[ChunkerConfig]] = ChunkerConfig

    def __init__(self, config: ChunkerConfig, *, counter: TokenCounter) -> None:
        self.config = config
        self.counter = counter

    @cached_property
    def sizes(self) -> Sizes:
        """The size and overlap in use: a token size over the embedder's limit is capped to it.

        Worked out on first use rather than in ``__init__``, because asking the
        embedder for its limit loads the model.
        """
        size, overlap = self.config.size, self.config.overlap
        limit = self.counter.max_tokens
        if self.config.unit == "tokens" and size > limit:
            # Keep the ratio, so the overlap still leaves room for new text, but keep some overlap.
            size, overlap = limit, max(overlap * limit // size, min(overlap, 1))
            logger.warning(
                "chunk size %d tokens is more than the embedder takes; using %d (overlap %d)",
                self.config.size,
                size,
                overlap,
            )
        return Sizes(size, overlap)

    def _budget(self, size: int) -> Budget:
        """``size`` in the configured unit; in characters, still never over the embedder's token limit;
        in tokens, never over ``MAX_CHARS_PER_TOKEN`` characters a token."""
        if self.config.unit == "tokens":
            return Budget(size * MAX_CHARS_PER_TOKEN, size)
        return Budget(size, self.counter.max_tokens)

    @property
    @abstractmethod
    def _piece_budget(self) -> Budget: ...

    @abstractmethod
    def _pieces(self, layout: Layout) -> list[Span]: ...

    @abstractmethod
    def _tail(self, layout: Layout, units: list[Span]) -> list[Span]: ...

    def chunk(self, document: Document) -> Iterator[Chunk]:
        """The document's chunks in order, one section of at most ``SECTION_CHARS`` laid out at a time."""
        text = document.text
        ordinal, start = 0, 0
        while start < len(text):
            stop = section_end(text, start, SECTION_CHARS)
            spans = self._spans(text[start:stop])
            restart = stop
            if stop < len(text) and len(spans) > 1:
                restart = start + spans.pop()[0]  # redone with what follows the cut
            for first, end in spans:
                yield Chunk(
                    text[start + first : start + end],
                    {**document.metadata, "ordinal": ordinal, "start": start + first, "end": start + end},
                )
                ordinal += 1
            start = restart

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """The chunks of ``text`` as ``(start, end)`` offsets."""
        layout = Layout(text, self.counter, self._piece_budget)
        if not layout.atoms:
            return []
        budget = self._budget(self.sizes.size)
        merged = merge(self._pieces(layout), budget, lambda units: self._tail(layout, units))
        return self._within_limit(layout, [(span.start, span.end) for span in merged], budget.tokens)

    def _within_limit(self, layout: Layout, spans: list[tuple[int, int]], cap: int) -> list[tuple[int, int]]:
        """Count the chunks' real text in one batch and halve any over ``cap`` tokens until none is.

        Summed word counts are exact for WordPiece but only close for other
        tokenizers, and the embedder would silently truncate a chunk over its limit.
        """
        counts = self.counter.count_tokens([layout.text[start:end] for start, end in spans])
        kept: list[tuple[int, int]] = []
        for (start, end), tokens in zip(spans, counts, strict=True):
            if tokens <= cap or end - start == 1:
                kept.append((start, end))
            else:
                kept += self._within_limit(layout, layout.halve(start, end), cap)
        return kept
