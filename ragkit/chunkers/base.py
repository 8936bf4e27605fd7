"""The chunker contract: split a document into chunks the embedder can take whole."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from ragkit.types import Chunk, Document


@runtime_checkable
class TokenCounter(Protocol):
    """Counts tokens the way the embedder will; the pipeline hands the embedder in.

    ``max_tokens`` is the most content tokens one input may have before the
    model truncates it (special tokens already taken off).
    """

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


@runtime_checkable
class Chunker(Protocol):
    """Built as ``Chunker(config, counter=...)``; no chunk may exceed ``counter.max_tokens``.

    ``chunk`` may return a lazy iterator: the pipeline pulls chunks a batch at a
    time, so a chunker that yields them never holds a large document's chunks at once.
    """

    def chunk(self, document: Document) -> Iterable[Chunk]: ...
