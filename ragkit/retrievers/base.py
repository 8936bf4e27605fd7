"""The retriever contract: a question in, ranked passages out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from ragkit.types import Hit


@runtime_checkable
class Retriever(Protocol):
    """Built as ``Retriever(config, embedder=..., store=...)`` by the pipeline."""

    def retrieve(
        self, queries: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """Ranked hits for each query; a whole batch at once, so embedding and search are batched too."""
        ...
