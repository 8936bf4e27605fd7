"""Chroma as the vector store: embedded (``PersistentClient``) under a folder."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from ragkit.config import StageConfig
from ragkit.stores.base import Where
from ragkit.types import Chunk, Hit

# Chroma's documentation recommends writes of a few hundred records at a time.
WRITE_BATCH = 256


class ChromaStore:
    """Cosine-distance collection that only ever receives ragkit's own vectors.

    No embedding function is attached: Chroma's default one downloads a model,
    which fails offline and would silently mix two embedders.
    """

    class Config(StageConfig):
        # The same default as pipelines/default.yaml's ${RAGKIT_STORE:-.ragkit/store}, so the
        # environment variable works with or without a pipeline file.
        path: str = Field(default_factory=lambda: os.environ.get("RAGKIT_STORE") or ".ragkit/store")
        collection: str = "ragkit"

    def __init__(self, config: Config):
        self.config = config
        self._collection: Any = None

    @property
    def collection(self) -> Any:
        if self._collection is None:
            import chromadb
            from chromadb.config import Settings

            Path(self.config.path).mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(
                path=self.config.path,
                settings=Settings(anonymized_telemetry=False, allow_reset=False),
            )
            self._collection = client.get_or_create_collection(
                self.config.collection,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        return self._collection

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        for start in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[start : start + WRITE_BATCH]
            self.collection.upsert(
                ids=[chunk.id for chunk in batch],
                embeddings=np.asarray(vectors[start : start + WRITE_BATCH], dtype=np.float32),
                documents=[chunk.text for chunk in batch],
                metadatas=[_clean(chunk.metadata) for chunk in batch],
            )

    def ids(self, where: Where | None = None) -> list[str]:
        return list(self.collection.get(where=_where(where), include=[])["ids"])

    def delete(self, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), WRITE_BATCH):
            self.collection.delete(ids=list(ids[start : start + WRITE_BATCH]))

    def query(self, vectors: np.ndarray, k: int, where: Where | None = None) -> list[list[Hit]]:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, vectors.shape[-1])
        if k <= 0 or len(vectors) == 0 or self.count() == 0:
            return [[] for _ in vectors]
        result = self.collection.query(
            query_embeddings=vectors,
            n_results=k,
            where=_where(where),
            include=["documents", "metadatas", "distances"],
        )
        return [
            [
                Hit(id=chunk_id, text=text, score=1.0 - float(distance), metadata=dict(metadata or {}))
                for chunk_id, text, metadata, distance in zip(ids, texts, metadatas, distances)
            ]
            for ids, texts, metadatas, distances in zip(
                result["ids"], result["documents"], result["metadatas"], result["distances"]
            )
        ]

    def count(self) -> int:
        return int(self.collection.count())

    def stats(self) -> dict[str, Any]:
        metadatas = self.collection.get(include=["metadatas"])["metadatas"]
        files = {(m.get("root"), str(m.get("source"))) for m in metadatas}
        documents = {(m.get("root"), str(m.get("source")), m.get("page")) for m in metadatas}
        return {
            "chunks": len(metadatas),
            "documents": len(documents),
            "files": len(files),
            "path": str(Path(self.config.path).resolve()),
            "collection": self.config.collection,
        }

    def sidecar(self, name: str) -> Path:
        return Path(self.config.path) / f"{self.config.collection}.{name}"


def _clean(metadata: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """Chroma accepts only scalar, non-null metadata values."""
    return {
        key: value if isinstance(value, (str, int, float, bool)) else str(value)
        for key, value in metadata.items()
        if value is not None
    }


def _where(where: Where | None) -> dict[str, Any] | None:
    """Chroma wants ``$and`` around several conditions; ragkit callers pass a flat dict."""
    if not where:
        return None
    if len(where) == 1 or any(key.startswith("$") for key in where):
        return dict(where)
    return {"$and": [{key: value} for key, value in where.items()]}
