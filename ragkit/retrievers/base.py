"""The retriever contract: a question in, ranked passages out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

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
