"""Recursive chunker: cut at the strongest boundary that makes pieces fit, then pack them."""

from __future__ import annotations

from ragkit.chunkers.layout import PARAGRAPH, Budget, Layout, Span
from ragkit.chunkers.spans import ChunkerConfig, SpanChunker


class RecursiveChunker(SpanChunker):
    """Splits by paragraph, then line, sentence, word and character, only as far as needed.

    Pieces are kept to ``size - overlap`` so that the overlap always fits in
    front of the next piece; the overlap is made of the previous chunk's last
    words, or its last characters where one word is longer than the overlap.
    """

    class Config(ChunkerConfig):
        """``size`` and ``overlap`` in ``unit``; chunks never exceed the embedder's token limit."""

    @property
    def _piece_budget(self) -> Budget:
        return self._budget(self.sizes.size - self.sizes.overlap)

    def _pieces(self, layout: Layout) -> list[Span]:
        return layout.split(0, len(layout.atoms), PARAGRAPH, self._piece_budget)

    def _tail(self, layout: Layout, units: list[Span]) -> list[Span]:
        return layout.tail(units, self.sizes.overlap, self.config.unit)
