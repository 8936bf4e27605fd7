"""Reranking with a cross-encoder: the question and each passage read together by one model.

A cross-encoder sees both texts at once, so it judges relevance better than
comparing two separately made embeddings, but it must run once per passage,
hence only on the retriever's few dozen candidates. No cross-encoder ships in
a PyPI package today, so ``model`` is a local folder or a hub id you provide.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from ragkit import models
from ragkit.stage import StageConfig
from ragkit.devices import resolve_device
from ragkit.types import Hit

log = logging.getLogger(__name__)


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a sentence-transformers ``CrossEncoder``, loaded on first use."""

    class Config(StageConfig):
        model: str  # a local folder or a Hugging Face hub id of a cross-encoder
        candidates: int = Field(default=20, ge=1)  # hits retrieved per question for it to rerank
        batch_size: int = Field(default=32, ge=1)
        device: str = "auto"

    def __init__(self, config: Config):
        self.config = config
        self._model: Any = None

    @property
    def candidates(self) -> int:
        return self.config.candidates

    def warm_up(self) -> None:
        self.model  # the property loads it

    @property
    def model(self) -> Any:
        if self._model is None:
            from sentence_transformers import CrossEncoder

            device = resolve_device(self.config.device)
            log.info("loading reranker %s on %s", self.config.model, device)
            self._model = CrossEncoder(models.resolve(self.config.model).location, device=device)
        return self._model

    def rerank(self, queries: Sequence[str], hits: Sequence[Sequence[Hit]], k: int) -> list[list[Hit]]:
        pairs = [(query, hit.text) for query, found in zip(queries, hits) for hit in found]
        if not pairs:
            return [[] for _ in queries]
        predicted = self.model.predict(pairs, batch_size=self.config.batch_size, show_progress_bar=False)
        scores = iter(predicted.tolist())
        reranked = []
        for found in hits:
            for hit in found:
                hit.score = hit.scores["rerank"] = float(next(scores))
            reranked.append(sorted(found, key=lambda hit: -hit.score)[:k])
        return reranked
