"""Keyword retrieval: BM25 over the pipeline's keyword index, for exact names, numbers and codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from ragkit.config import StageConfig
from ragkit.embedders.base import Embedder
from ragkit.indexes.base import KeywordIndex
from ragkit.stores.base import VectorStore
from ragkit.types import Hit


class KeywordRetriever:
    """Top-k by the keyword index's score (BM25 for ``bm25``), with metadata filters."""

    needs_index: ClassVar[bool] = True

    class Config(StageConfig):
        top_k: int = Field(default=5, ge=1)

    def __init__(self, config: Config, *, embedder: Embedder, store: VectorStore, index: KeywordIndex | None):
        if index is None:
            raise ValueError("the keyword retriever needs a keyword index: add `index: {type: bm25}` to the pipeline")
        self.config = config
        self.index = index

    @property
    def top_k(self) -> int:
        return self.config.top_k

    def retrieve(
        self, queries: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        found = self.index.search(queries, k or self.config.top_k, where)
        for hits in found:
            for hit in hits:
                hit.scores["keyword"] = hit.score
        return found
