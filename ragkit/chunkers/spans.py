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
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import ClassVar, NamedTuple

from pydantic import Field, model_validator

from ragkit.chunkers.base import TokenCounter
from ragkit.chunkers.layout import Budget, Layout, Span, Unit
from ragkit.stage import StageConfig
from ragkit.types import Chunk, Document

logger = logging.getLogger(__name__)


# Characters laid out at once (about 13 MB of layout); a section is cut at a paragraph break,
# a line break or a space in its second half where there is one, else at this length.
SECTION_CHARS = 100_000
# In token units a chunk also holds at most this many characters per token of its size: a
# tokenizer counts a long unbroken string as one unknown token, which alone would let a
# 50 MB line without spaces through as one "one-token" chunk. Prose has about 4-5 characters a token.
MAX_CHARS_PER_TOKEN = 10
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


class Sizes(NamedTuple):
    """Chunk size and overlap, in the configured unit."""

    size: int
    overlap: int


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
