"""Sentence chunker: chunks made of whole sentences, overlapping by whole sentences."""

from __future__ import annotations

from ragkit.chunkers.layout import LINE, Budget, Layout, Span, trailing
from ragkit.chunkers.spans import ChunkerConfig, SpanChunker


class SentenceChunker(SpanChunker):
    """Packs whole sentences up to ``size``; the next chunk repeats the last ones that fit in ``overlap``.

    Sentences end at ``.!?`` followed by whitespace, at full-width ``。！？；``
    (no space needed) and at blank lines. A sentence longer than ``size`` is
    split like the recursive chunker does (lines, words, characters).
    """

    class Config(ChunkerConfig):
        """``size`` and ``overlap`` in ``unit``; chunks never exceed the embedder's token limit."""

    @property
    def _piece_budget(self) -> Budget:
        return self._budget(self.sizes.size)

    def _pieces(self, layout: Layout) -> list[Span]:
        budget = self._piece_budget
        return [
            piece for first, stop in layout.sentences() for piece in layout.split(first, stop, LINE, budget)
        ]

    def _tail(self, layout: Layout, units: list[Span]) -> list[Span]:
        return trailing(units, self.sizes.overlap, self.config.unit)
