"""The reranker contract: a question and its candidate passages in, the best of them out, re-scored."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ragkit.types import Hit


@runtime_checkable
class Reranker(Protocol):
    """Built as ``Reranker(config)`` by the pipeline, which asks the retriever for ``candidates`` hits per question."""

    @property
    def candidates(self) -> int:
        """How many retrieved hits per question it wants to choose from."""
        ...

    def rerank(self, queries: Sequence[str], hits: Sequence[Sequence[Hit]], k: int) -> list[list[Hit]]:
        """The ``k`` best of each query's hits by the reranker's score (``Hit.score`` and ``scores["rerank"]``)."""
        ...
