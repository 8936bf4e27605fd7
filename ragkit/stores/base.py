"""The vector store contract: keep chunks with their vectors, find the nearest."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ragkit.types import Chunk, Hit, Where


class StoreUnavailableError(RuntimeError):
    """The store's server cannot be reached or refuses ragkit; the message names the address and the fix.

    Raised by any store call. An ingest it interrupts resumes where it stopped
    when run again, like one that was killed.
    """


class StoreFullError(RuntimeError):
    """The disk under the store is full; the message names the path, the free space and what to do."""


@runtime_checkable
class VectorStore(Protocol):
    """Chunks are keyed by ``Chunk.id``, so writing the same chunk twice keeps one copy.

    ``where`` is a metadata filter: ``{"source": "a.md"}``, ``{"file_type": "pdf"}``,
    or several keys at once (all must match).
    """

    @property
    def single_process(self) -> bool:
        """Whether only one process at a time may use the store: an embedded database whose open
        client does not see what other processes write. A server holding it then refuses other writers."""
        ...

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def ids(self, where: Where | None = None) -> list[str]: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def query(
        self, vectors: np.ndarray, k: int, where: Where | None = None, *, with_vectors: bool = False
    ) -> list[list[Hit]]:
        """The ``k`` nearest chunks for each row of ``vectors`` (one call for a whole batch of questions);
        ``with_vectors``: each hit carries its stored vector (``Hit.vector``), so diversifying needs no second call."""
        ...

    def count(self) -> int: ...

    def scan(self, batch_size: int = 1000) -> Iterator[tuple[list[str], list[Chunk]]]:
        """Every stored chunk with its id, ``batch_size`` at a time (to rebuild a keyword index from the store)."""
        ...

    def chunks_at(self, document: Where, ordinals: Sequence[int]) -> list[Chunk]:
        """The stored chunks of one document (``document``: its ``root``, ``source`` and ``page``) at these ordinals,
        in any order (to widen a retrieved chunk with its neighbours)."""
        ...

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        """The stored vectors of ``ids``, one row each in that order (for diversifying hits the keyword index found)."""
        ...

    def stats(self) -> dict[str, Any]:
        """``chunks``, ``documents`` and ``files`` counted over every stored chunk, with ``describe()``'s keys
        (the pipeline counts from its manifest instead, unless the manifest predates document counts)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Where the store is, for ``RAG.stats`` and for the pipeline's state files (``ragkit.ingest.state``):
        ``collection``, and ``path`` (its data's folder on this machine) or ``server`` (a URL)."""
        ...
