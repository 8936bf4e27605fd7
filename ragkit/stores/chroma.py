"""Chroma as the vector store: embedded (``PersistentClient``) under a folder."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.config import StageConfig
from ragkit.stores.base import Where
from ragkit.types import Chunk, Hit, stored_metadata

# Chroma's documentation recommends writes of a few hundred records at a time.
WRITE_BATCH = 256


class ChromaStore:
    """Cosine-distance collection that only ever receives ragkit's own vectors.

    No embedding function is attached: Chroma's default one downloads a model,
    which fails offline and would silently mix two embedders.
    """

    class Config(StageConfig):
        path: str = ".ragkit/store"
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
                metadatas=[stored_metadata(chunk.metadata) for chunk in batch],  # Chroma takes scalars only
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

    def scan(self, batch_size: int = 1000) -> Iterator[tuple[list[str], list[Chunk]]]:
        for offset in range(0, self.count(), batch_size):
            page = self.collection.get(limit=batch_size, offset=offset, include=["documents", "metadatas"])
            chunks = [Chunk(text, dict(metadata or {})) for text, metadata in zip(page["documents"], page["metadatas"])]
            yield list(page["ids"]), chunks

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        found = self.collection.get(ids=list(ids), include=["embeddings"])
        row = {chunk_id: index for index, chunk_id in enumerate(found["ids"])}
        return np.asarray(found["embeddings"], dtype=np.float32)[[row[chunk_id] for chunk_id in ids]]

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


def _where(where: Where | None) -> dict[str, Any] | None:
    """Chroma wants ``$and`` around several conditions; ragkit callers pass a flat dict."""
    if not where:
        return None
    if len(where) == 1 or any(key.startswith("$") for key in where):
        return dict(where)
    return {"$and": [{key: value} for key, value in where.items()]}
