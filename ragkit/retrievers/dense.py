"""Dense retrieval: nearest chunks to the question's embedding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from ragkit.config import StageConfig
from ragkit.embedders.base import Embedder
from ragkit.indexes.base import KeywordIndex
from ragkit.retrievers.ranking import ABSTAIN_BELOW, abstains, diversify
from ragkit.stores.base import VectorStore
from ragkit.types import Hit


class DenseRetriever:
    """Top-k by cosine similarity, with metadata filters, a minimum score, abstention and optional MMR."""

    class Config(StageConfig):
        top_k: int = Field(default=5, ge=1)
        score_threshold: float | None = None  # drop hits whose cosine is below it
        abstain_below: float | None = ABSTAIN_BELOW  # no hits at all when even the best cosine is below it
        mmr_lambda: float | None = Field(default=None, ge=0, le=1)  # diversify: 1 = pure relevance; None = off
        candidates: int = Field(default=20, ge=1)  # hits MMR chooses the top_k from

    def __init__(self, config: Config, *, embedder: Embedder, store: VectorStore, index: KeywordIndex | None = None):
        self.config = config
        self.embedder = embedder
        self.store = store

    @property
    def top_k(self) -> int:
        return self.config.top_k

    def retrieve(
        self, queries: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        if not queries:
            return []
        k = k or self.config.top_k
        mmr = self.config.mmr_lambda
        depth = max(k, self.config.candidates) if mmr is not None else k
        found = self.store.query(self.embedder.embed_queries(queries), depth, where)
        threshold = self.config.score_threshold
        results = []
        for hits in found:
            if abstains(hits, self.config.abstain_below):
                results.append([])
                continue
            hits = [hit for hit in hits if threshold is None or hit.score >= threshold]
            for hit in hits:
                hit.scores["dense"] = hit.score
            results.append(diversify(hits, self.store, k, mmr) if mmr is not None else hits[:k])
        return results
