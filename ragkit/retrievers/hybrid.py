"""Hybrid retrieval: dense and keyword results fused by reciprocal rank.

Dense retrieval finds paraphrases; keyword search finds the exact option
name, error code or number that an embedding blurs. Reciprocal rank fusion
combines the two rankings by rank alone, so their scores need no common scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field

from ragkit.stage import StageConfig
from ragkit.indexes.base import KeywordIndex
from ragkit.language import is_chinese
from ragkit.retrievers.base import StoreRetriever
from ragkit.retrievers.ranking import ABSTAIN_BELOW, abstains, reciprocal_rank_fusion
from ragkit.types import Hit


class Weights(StageConfig):
    """How much each ranking counts in the fusion; 0 leaves it out."""

    dense: float = Field(default=1.0, ge=0)
    keyword: float = Field(default=1.0, ge=0)


class HybridRetriever(StoreRetriever):
    """The best of ``candidates`` dense and ``candidates`` keyword hits, by weighted reciprocal rank fusion."""

    needs_index: ClassVar[bool] = True
    index: KeywordIndex  # never None: the base refuses to build without one

    class Config(StageConfig):
        top_k: int = Field(default=5, ge=1)
        # Hits taken from each side before fusing. Deeper lists let chunks that both sides rank middling
        # outscore one side's first hit: 20 measured best on the dev set (benchmarks/RESULTS.md).
        candidates: int = Field(default=20, ge=1)
        rrf_k: float = Field(default=60, gt=0)  # score = sum of weight / (rrf_k + rank)
        weights: Weights = Field(default_factory=Weights)
        # The weights for a question in Chinese; None: ``weights``. The default embedder (all-MiniLM-L6-v2) is
        # English-only, and its ranking of Chinese passages is noise that pushes the keyword side's answers down:
        # on the Chinese dev half the answer was in the first passage for 0.20 of questions fused, 0.68 by keyword
        # alone (benchmarks/RESULTS.md). Set None with an embedder that reads Chinese.
        chinese_weights: Weights | None = Field(default_factory=lambda: Weights(dense=0.0, keyword=1.0))
        # No hits at all when even the best dense cosine is below it, unless the best keyword hit has every query term.
        abstain_below: float | None = ABSTAIN_BELOW
        mmr_lambda: float | None = Field(default=None, ge=0, le=1)  # diversify: 1 = pure relevance; None = off

    def retrieve(
        self, queries: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        if not queries:
            return []
        k = k or self.config.top_k
        depth = max(k, self.config.candidates)
        with_vectors = self.config.mmr_lambda is not None
        dense = self.store.query(self.embedder.embed_queries(queries), depth, where, with_vectors=with_vectors)
        keyword = self.index.search(queries, depth, where)
        return [
            self._fuse(dense_hits, keyword_hits, k, self._weights(query))
            for query, dense_hits, keyword_hits in zip(queries, dense, keyword)
        ]

    def _weights(self, query: str) -> Weights:
        chinese = self.config.chinese_weights
        return chinese if chinese is not None and is_chinese(query) else self.config.weights

    def _fuse(self, dense_hits: list[Hit], keyword_hits: list[Hit], k: int, weights: Weights) -> list[Hit]:
        if abstains(dense_hits, self.config.abstain_below, keyword_hits):
            return []
        found = {hit.id: hit for hit in [*keyword_hits, *dense_hits]}
        components = {
            "dense": {hit.id: hit.score for hit in dense_hits},
            "keyword": {hit.id: hit.score for hit in keyword_hits},
        }
        matched = {hit.id: hit.scores["matched"] for hit in keyword_hits if "matched" in hit.scores}
        fused = reciprocal_rank_fusion(
            {name: list(scores) for name, scores in components.items()},
            k=self.config.rrf_k,
            weights=weights.model_dump(),
        )
        hits = [
            Hit(
                id=chunk_id,
                text=found[chunk_id].text,
                score=score,
                metadata=found[chunk_id].metadata,
                scores={
                    **{name: scores[chunk_id] for name, scores in components.items() if chunk_id in scores},
                    **({"matched": matched[chunk_id]} if chunk_id in matched else {}),
                    "rrf": score,
                },
                vector=found[chunk_id].vector,
            )
            for chunk_id, score in fused
        ]
        mmr = self.config.mmr_lambda
        return self._diversified(hits, k, mmr) if mmr is not None else hits[:k]
