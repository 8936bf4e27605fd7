"""Embeddings from a sentence-transformers model, run locally."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from ragkit import models
from ragkit.config import StageConfig
from ragkit.devices import resolve_device

log = logging.getLogger(__name__)

# Show a progress bar only when encoding takes long enough to wonder about.
PROGRESS_THRESHOLD = 512


class SentenceTransformerEmbedder:
    """Batched, normalised embeddings; fp16 on a GPU, float32 on the CPU."""

    class Config(StageConfig):
        model: str = "all-MiniLM-L6-v2"
        batch_size: int = 64
        device: str = "auto"
        normalize: bool = True
        show_progress: bool = True

    def __init__(self, config: Config):
        self.config = config
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            resolved = models.resolve(self.config.model)
            device = resolve_device(self.config.device)
            log.info("loading embedder %s on %s", self.config.model, device)
            self._model = SentenceTransformer(resolved.location, device=device)
            if device.startswith("cuda"):
                self._model.half()
        return self._model

    @property
    def fingerprint(self) -> str:
        return f"sentence-transformers:{self.config.model}:normalize={self.config.normalize}"

    @property
    def max_tokens(self) -> int:
        """Content tokens that fit before the model truncates (its limit minus [CLS] and [SEP])."""
        special = self.model.tokenizer.num_special_tokens_to_add(pair=False)
        return int(self.model.max_seq_length) - special

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.model.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts))

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode([text])[0]

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.model.get_embedding_dimension()), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.config.batch_size,
            normalize_embeddings=self.config.normalize,
            convert_to_numpy=True,
            show_progress_bar=self.config.show_progress and len(texts) >= PROGRESS_THRESHOLD,
        )
        return np.asarray(vectors, dtype=np.float32)
