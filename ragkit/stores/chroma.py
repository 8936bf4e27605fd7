"""Chroma as the vector store: embedded (``PersistentClient``) under a folder, or a Chroma server (``HttpClient``)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ragkit.stage import ConfigError, StageConfig
from ragkit.stores.base import StoreUnavailableError
from ragkit.types import Chunk, Hit, Where, stored_metadata

# Chroma's documentation recommends writes of a few hundred records at a time.
WRITE_BATCH = 256

# Keys that mean something in one mode only: set in the other mode (not to the default), they are a mistake.
EMBEDDED_KEYS = frozenset({"path"})
SERVER_KEYS = frozenset({"host", "port", "ssl", "headers", "token_env", "token_header", "timeout"})


class ChromaStore:
    """Cosine-distance collection that only ever receives ragkit's own vectors.

    No embedding function is attached: Chroma's default one downloads a model,
    which fails offline and would silently mix two embedders. Both modes behave
    alike; in server mode the chunks live on the server while the ingest
    manifest and lock stay on this machine (the pipeline's ``state``).
    """

    class Config(StageConfig):
        mode: Literal["embedded", "server"] = "embedded"
        # The same default as pipelines/default.yaml's ${RAGKIT_STORE:-.ragkit/store}, so the
        # environment variable works with or without a pipeline file.
        path: str = Field(default_factory=lambda: os.environ.get("RAGKIT_STORE") or ".ragkit/store")
        collection: str = "ragkit"
        host: str = "localhost"
        port: int = Field(default=8000, ge=1, le=65535)
        ssl: bool = False
        headers: dict[str, str] = Field(default_factory=dict)
        token_env: str | None = None
        token_header: Literal["Authorization", "X-Chroma-Token"] = "Authorization"
        # Seconds to connect, and then to wait for each part of an answer: chromadb's client waits
        # forever, so a stopped server (SIGSTOP, a hung host) would hang ragkit with it.
        timeout: float = Field(default=30.0, gt=0)

        @model_validator(mode="before")
        @classmethod
        def _state_path_moved(cls, data: Any) -> Any:
            if isinstance(data, dict) and "state_path" in data:
                raise PydanticCustomError(
                    "moved", "'state_path' is no store key any more: set the pipeline's top-level `state: FOLDER`"
                )
            return data

        @model_validator(mode="after")
        def _keys_of_one_mode(self) -> "ChromaStore.Config":
            # Compared with the defaults rather than the keys given, so that a dumped config validates again.
            foreign = EMBEDDED_KEYS if self.mode == "server" else SERVER_KEYS
            fields = type(self).model_fields
            misplaced = sorted(
                key for key in foreign if getattr(self, key) != fields[key].get_default(call_default_factory=True)
            )
            if misplaced:
                hint = (
                    "the chunks live on the server; ragkit's own files go to the pipeline's `state` folder"
                    if self.mode == "server"
                    else "add `mode: server` to use a Chroma server"
                )
                keys = ", ".join(repr(key) for key in misplaced)
                verb = "is" if len(misplaced) == 1 else "are"
                # A custom error, not ValueError, so the message reads without pydantic's "Value error," prefix.
                raise PydanticCustomError("mode_keys", f"{keys} {verb} not used in mode {self.mode!r} ({hint})")
            return self

        @property
        def address(self) -> str:
            return f"{self.host}:{self.port}"

    def __init__(self, config: Config):
        self.config = config
        self._collection: Any = None

    @property
    def single_process(self) -> bool:
        # An embedded client keeps its vector index in memory and never reloads it from disk.
        return self.config.mode == "embedded"

    def warm_up(self) -> None:
        self.collection  # the property opens the client and the collection

    @property
    def collection(self) -> Any:
        if self._collection is None:
            client = self._server_client() if self.config.mode == "server" else self._embedded_client()
            self._collection = client.get_or_create_collection(
                self.config.collection,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        return self._collection

    def _embedded_client(self) -> Any:
        import chromadb

        Path(self.config.path).mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=self.config.path, settings=_settings())

    def _server_client(self) -> Any:
        import chromadb

        settings = _settings()
        if self.config.token_env:
            token = os.environ.get(self.config.token_env)
            if not token:
                raise ConfigError(
                    f"store.token_env names {self.config.token_env}, which is not set; export "
                    f"{self.config.token_env}=<token> (the token comes from the environment, never from the YAML file)"
                )
            settings.chroma_client_auth_provider = "chromadb.auth.token_authn.TokenAuthClientProvider"
            settings.chroma_client_auth_credentials = token
            settings.chroma_auth_token_transport_header = self.config.token_header
        import httpx

        # The client asks the server for its tenant on construction, with no timeout that could be set
        # before; a heartbeat with one goes first, so that an unreachable or hung server fails here.
        timeout = httpx.Timeout(self.config.timeout)
        scheme = "https" if self.config.ssl else "http"
        httpx.get(f"{scheme}://{self.config.address}/api/v2/heartbeat", headers=self.config.headers, timeout=timeout)
        client = chromadb.HttpClient(
            host=self.config.host,
            port=self.config.port,
            ssl=self.config.ssl,
            headers=dict(self.config.headers),
            settings=settings,
        )
        # Every later call goes through this one session (chromadb 1.x creates it with timeout=None).
        client._server._session.timeout = timeout
        return client

    @contextmanager
    def _talking(self) -> Iterator[None]:
        """Turn a server that cannot be reached or refuses us into one clear line.

        The cached collection is dropped too, so that the next call, after the
        server is back, finds the collection again (it may have been recreated).
        """
        try:
            yield
        except Exception as exc:
            problem = self._server_problem(exc)
            if problem is None:
                raise
            self._collection = None
            raise StoreUnavailableError(problem) from exc

    def _server_problem(self, exc: BaseException) -> str | None:
        """What went wrong talking to the server, in one line with the fix; None for any other error."""
        if self.config.mode != "server":
            return None
        import httpx
        from chromadb.errors import AuthorizationError, ChromaAuthError

        refused = _in_chain(exc, (ChromaAuthError, AuthorizationError))
        status = _in_chain(exc, httpx.HTTPStatusError)
        if status is not None and status.response.status_code in (401, 403):
            refused = f"HTTP {status.response.status_code}"
        if refused is not None:
            token = "store.token_env"
            if self.config.token_env:
                token = f"the token in ${self.config.token_env} ({token})"
            return (
                f"the Chroma server at {self.config.address} refused ragkit's credentials ({_first_line(refused)}); "
                f"check {token} and store.headers"
            )
        if _in_chain(exc, httpx.TimeoutException) is not None:
            return (
                f"the Chroma server at {self.config.address} did not answer within {self.config.timeout:g}s "
                "(store.timeout); it may be stopped or overloaded: check it, or raise store.timeout"
            )
        lost = _in_chain(exc, httpx.TransportError)
        if lost is None:
            return None
        return (
            f"cannot reach the Chroma server at {self.config.address} ({type(lost).__name__}: {_first_line(lost)}); "
            f"start it (`chroma run --path ./chroma-data --port {self.config.port}`) "
            "or check store.host, store.port and store.ssl"
        )

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        with self._talking():
            for start in range(0, len(chunks), WRITE_BATCH):
                batch = chunks[start : start + WRITE_BATCH]
                self.collection.upsert(
                    ids=[chunk.id for chunk in batch],
                    embeddings=np.asarray(vectors[start : start + WRITE_BATCH], dtype=np.float32),
                    documents=[chunk.text for chunk in batch],
                    metadatas=[stored_metadata(chunk.metadata) for chunk in batch],  # Chroma takes scalars only
                )

    def ids(self, where: Where | None = None) -> list[str]:
        with self._talking():
            return list(self.collection.get(where=_where(where), include=[])["ids"])

    def delete(self, ids: Sequence[str]) -> None:
        with self._talking():
            for start in range(0, len(ids), WRITE_BATCH):
                self.collection.delete(ids=list(ids[start : start + WRITE_BATCH]))

    def query(
        self, vectors: np.ndarray, k: int, where: Where | None = None, *, with_vectors: bool = False
    ) -> list[list[Hit]]:
        vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, vectors.shape[-1])
        if k <= 0 or len(vectors) == 0:  # an empty collection answers with no hits: no count() first
            return [[] for _ in vectors]
        include = ["documents", "metadatas", "distances", *(["embeddings"] if with_vectors else [])]
        with self._talking():
            result = self.collection.query(query_embeddings=vectors, n_results=k, where=_where(where), include=include)
        stored = result["embeddings"] if with_vectors else [[None] * len(ids) for ids in result["ids"]]
        # A chunk deleted by another process can linger in an embedded client's in-memory vector
        # index: it comes back without its text. It is gone, so it is no hit.
        return [
            [
                Hit(
                    id=chunk_id,
                    text=text,
                    score=1.0 - float(distance),
                    metadata=dict(metadata or {}),
                    vector=None if vector is None else np.asarray(vector, dtype=np.float32),
                )
                for chunk_id, text, metadata, distance, vector in zip(ids, texts, metadatas, distances, row_vectors)
                if text is not None
            ]
            for ids, texts, metadatas, distances, row_vectors in zip(
                result["ids"], result["documents"], result["metadatas"], result["distances"], stored
            )
        ]

    def count(self) -> int:
        with self._talking():
            return int(self.collection.count())

    def scan(self, batch_size: int = 1000) -> Iterator[tuple[list[str], list[Chunk]]]:
        for offset in range(0, self.count(), batch_size):
            with self._talking():
                page = self.collection.get(limit=batch_size, offset=offset, include=["documents", "metadatas"])
            ids = list(page["ids"])
            chunks = [
                Chunk(text, dict(metadata or {}), chunk_id)
                for chunk_id, text, metadata in zip(ids, page["documents"], page["metadatas"])
            ]
            yield ids, chunks

    def chunks_at(self, document: Where, ordinals: Sequence[int]) -> list[Chunk]:
        if not ordinals:
            return []
        where = {**document, "ordinal": {"$in": list(ordinals)}}
        with self._talking():
            found = self.collection.get(where=_where(where), include=["documents", "metadatas"])
        return [
            Chunk(text, dict(metadata or {}), chunk_id)
            for chunk_id, text, metadata in zip(found["ids"], found["documents"], found["metadatas"])
            if text is not None
        ]

    def vectors(self, ids: Sequence[str]) -> np.ndarray:
        if not ids:
            return np.zeros((0, 0), dtype=np.float32)
        with self._talking():
            found = self.collection.get(ids=list(ids), include=["embeddings"])
        row = {chunk_id: index for index, chunk_id in enumerate(found["ids"])}
        return np.asarray(found["embeddings"], dtype=np.float32)[[row[chunk_id] for chunk_id in ids]]

    def stats(self) -> dict[str, Any]:
        with self._talking():
            metadatas = self.collection.get(include=["metadatas"])["metadatas"]
        files = {(m.get("root"), str(m.get("source"))) for m in metadatas}
        documents = {(m.get("root"), str(m.get("source")), m.get("page")) for m in metadatas}
        return {"chunks": len(metadatas), "documents": len(documents), "files": len(files), **self.describe()}

    def describe(self) -> dict[str, Any]:
        if self.config.mode == "server":
            scheme = "https" if self.config.ssl else "http"
            where = {"server": f"{scheme}://{self.config.address}"}
        else:
            where = {"path": str(Path(self.config.path).resolve())}
        return {**where, "collection": self.config.collection}


def _settings() -> Any:
    """Chroma client settings for both modes: no telemetry, no ``reset`` that could wipe a store."""
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def _first_line(error: object) -> str:
    return (str(error).splitlines() or [""])[0]


def _in_chain(exc: BaseException | None, types: type[BaseException] | tuple[type[BaseException], ...]) -> Any:
    """The first exception of ``types`` among ``exc`` and the exceptions it was raised from or during.

    Chroma's client re-raises a refused connection as a bare ``ValueError``;
    the original is only in the chain.
    """
    while exc is not None:
        if isinstance(exc, types):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _where(where: Where | None) -> dict[str, Any] | None:
    """Chroma wants ``$and`` around several conditions; ragkit callers pass a flat dict."""
    if not where:
        return None
    if len(where) == 1 or any(key.startswith("$") for key in where):
        return dict(where)
    return {"$and": [{key: value} for key, value in where.items()]}
