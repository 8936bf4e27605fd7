"""The retriever contract: a question in, ranked passages out."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from ragkit.types import Hit


@runtime_checkable
class Retriever(Protocol):
    """Built as ``Retriever(config, embedder=..., store=...)`` by the pipeline."""

    def retrieve(self, query: str, k: int | None = None, where: dict[str, Any] | None = None) -> list[Hit]: ...
