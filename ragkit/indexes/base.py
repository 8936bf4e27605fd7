"""The keyword index contract: chunks in, found again by the words they contain."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ragkit.types import Chunk, Hit, Where


@runtime_checkable
class KeywordIndex(Protocol):
    """Built as ``KeywordIndex(config, *, path)``; ``path`` is a folder among the pipeline's state files (``ragkit.ingest.state``).

    The pipeline keeps it in step with the vector store: it upserts after the
    store and deletes before it, so the index never lists a chunk the store
    has not got, and rebuilds it from the store when their counts differ. The
    ids are the store's. ``where`` filters as the store's does: metadata keys
    that must all equal the given values.
    """

    def upsert(self, ids: Sequence[str], chunks: Sequence[Chunk]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def clear(self) -> None: ...

    def count(self) -> int: ...

    def search(self, queries: Sequence[str], k: int, where: Where | None = None) -> list[list[Hit]]:
        """The ``k`` best-scoring chunks for each query that share a term with it, best first."""
        ...

    def refresh(self) -> None:
        """Make what was written searchable and persist it, so the next process need not (search does it too)."""
        ...
