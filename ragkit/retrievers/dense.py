"""Dense retrieval: nearest chunks to the question's embedding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from ragkit.stage import StageConfig
from ragkit.retrievers.base import StoreRetriever
from ragkit.retrievers.ranking import ABSTAIN_BELOW, abstains
from ragkit.types import Hit


class DenseRetriever(StoreRetriever):
    """Top-k by cosine similarity, with metadata filters, a minimum score, abstention and optional MMR."""

    class Config(StageConfig):
        top_k: int = Field(default=5, ge=1)
        score_threshold: float | None = None  # drop hits whose cosine is below it
        abstain_below: float | None = ABSTAIN_BELOW  # no hits at all when even the best cosine is below it
        mmr_lambda: float | None = Field(default=None, ge=0, le=1)  # diversify: 1 = pure relevance; None = off
        candidates: int = Field(default=20, ge=1)  # hits MMR chooses the top_k from

    def retrieve(
        self, queries: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        if not queries:
            return []
        k = k or self.config.top_k
        mmr = self.config.mmr_lambda
        depth = max(k, self.config.candidates) if mmr is not None else k
        found = self.store.query(self.embedder.embed_queries(queries), depth, where, with_vectors=mmr is not None)
        threshold = self.config.score_threshold
        results = []
        for hits in found:
            if abstains(hits, self.config.abstain_below):
                results.append([])
                continue
            hits = [hit for hit in hits if threshold is None or hit.score >= threshold]
            for hit in hits:
                hit.scores["dense"] = hit.score
            results.append(self._diversified(hits, k, mmr) if mmr is not None else hits[:k])
        return results
