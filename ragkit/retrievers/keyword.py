"""Keyword retrieval: BM25 over the pipeline's keyword index, for exact names, numbers and codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from ragkit.stage import StageConfig
from ragkit.indexes.base import KeywordIndex
from ragkit.retrievers.base import StoreRetriever
from ragkit.types import Hit


class KeywordRetriever(StoreRetriever):
    """Top-k by the keyword index's score (BM25 for ``bm25``), with metadata filters."""

    needs_index: ClassVar[bool] = True
    index: KeywordIndex  # never None: the base refuses to build without one

    class Config(StageConfig):
        top_k: int = Field(default=5, ge=1)

    def retrieve(
        self, queries: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        found = self.index.search(queries, k or self.config.top_k, where)
        for hits in found:
            for hit in hits:
                hit.scores["keyword"] = hit.score
        return found
