"""The retriever contract: a question in, ranked passages out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from ragkit.stage import StageConfig
from ragkit.embedders.base import Embedder
from ragkit.indexes.base import KeywordIndex
from ragkit.stores.base import VectorStore
from ragkit.retrievers.ranking import diversify
from ragkit.types import Hit


@runtime_checkable
class Retriever(Protocol):
    """Built as ``Retriever(config, embedder=..., store=..., index=...)`` by the pipeline.

    ``index`` is the pipeline's keyword index (``ragkit.indexes.base.KeywordIndex``),
    or None when it has none. A retriever class that cannot work without one
    sets the class attribute ``needs_index = True``, so that a pipeline
    without an index is refused when its configuration is read.
    """

    @property
    def top_k(self) -> int:
        """How many hits ``retrieve`` returns when ``k`` is not given."""
        ...

    def retrieve(
        self, queries: Sequence[str], k: int | None = None, where: dict[str, Any] | None = None
    ) -> list[list[Hit]]:
        """Ranked hits for each query; a whole batch at once, so embedding and search are batched too.

        Each hit's ``scores`` holds its component scores by name (``dense``, ``keyword``, ``rrf``).
        """
        ...


class StoreRetriever:
    """What the built-in retrievers share: the stages the pipeline hands them, and ``top_k`` from the config.

    A subclass that searches the keyword index sets ``needs_index = True``, and
    is refused without one, naming the fix.
    """

    needs_index: ClassVar[bool] = False

    def __init__(self, config: StageConfig, *, embedder: Embedder, store: VectorStore, index: KeywordIndex | None = None):
        if self.needs_index and index is None:
            raise ValueError(f"{type(self).__name__} needs a keyword index: add `index: {{type: bm25}}` to the pipeline")
        self.config: Any = config
        self.embedder = embedder
        self.store = store
        self.index = index

    @property
    def top_k(self) -> int:
        return int(self.config.top_k)

    def _diversified(self, hits: list[Hit], k: int, weight: float) -> list[Hit]:
        """``ranking.diversify`` over the hits' vectors: those the search returned, the rest (keyword hits) fetched."""
        if len(hits) <= 1:
            return hits[:k]
        missing = [hit.id for hit in hits if hit.vector is None]
        fetched = dict(zip(missing, self.store.vectors(missing))) if missing else {}
        vectors = np.stack([hit.vector if hit.vector is not None else fetched[hit.id] for hit in hits])
        return diversify(hits, vectors, k, weight)
