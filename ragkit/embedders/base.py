"""The embedder contract: texts in, unit-length vectors out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Also a ``TokenCounter``, so chunkers can size chunks in the embedder's own tokens."""

    @property
    def max_tokens(self) -> int: ...

    @property
    def fingerprint(self) -> str:
        """Identifies the model, so a store built with one embedder is not queried with another."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """float32 array of shape (len(texts), dim), each row of unit length."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Like ``embed_documents``, for questions (some models embed the two sides differently)."""
        ...
