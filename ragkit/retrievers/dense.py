"""Dense retrieval: nearest chunks to the question's embedding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ragkit.config import StageConfig
from ragkit.embedders.base import Embedder
from ragkit.stores.base import VectorStore
from ragkit.types import Hit


class DenseRetriever:
    """Top-k by cosine similarity, with metadata filters and a minimum score."""

    class Config(StageConfig):
        top_k: int = 5
        score_threshold: float | None = None

    def __init__(self, config: Config, *, embedder: Embedder, store: VectorStore):
        self.config = config
        self.embedder = embedder
        self.store = store

    def retrieve(
        self, queries: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        if not queries:
            return []
        found = self.store.query(self.embedder.embed_queries(queries), k or self.config.top_k, where)
        threshold = self.config.score_threshold
        return [[hit for hit in hits if threshold is None or hit.score >= threshold] for hits in found]
