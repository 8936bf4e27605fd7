"""BM25 keyword index: bm25s for the scoring, SQLite for the terms, text and metadata of each chunk.

bm25s builds a static sparse matrix and cannot add or remove documents, so
the index keeps the tokenized chunks in SQLite, which takes incremental
upserts and deletes, and builds the bm25s matrix from them when they have
changed. Every write stamps a new random ``generation`` in the database; a
built matrix is saved in a folder named after the generation it was built
from, so any process (an ingest, a query server) knows whether the matrix on
disk, or the one it holds, is current, and never re-tokenizes to find out.
Folders are written under a temporary name and renamed into place, so a
reader never sees half of one.

Layout of the index folder::

    terms.sqlite         chunks (id, text, metadata, terms) and meta (tokenizer, generation)
    built-<generation>/  the bm25s matrix (bm25s' own files) and ids.json, its row order
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import numpy as np
from pydantic import Field

from ragkit.stage import StageConfig
from ragkit.indexes.tokenizers import Segmenter, Tokenizer
from ragkit.types import Chunk, Hit, Where, stored_metadata

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (id TEXT PRIMARY KEY, text TEXT NOT NULL, metadata TEXT NOT NULL, terms TEXT NOT NULL);
"""
# SQLite allows 999 bound parameters in older builds; stay well under.
_IDS_PER_STATEMENT = 500


def _locked(method: Callable[Concatenate[BM25Index, P], T]) -> Callable[Concatenate[BM25Index, P], T]:
    """Run a method holding the index's lock."""

    @functools.wraps(method)
    def locked(self: BM25Index, *args: P.args, **kwargs: P.kwargs) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


@dataclass
class _Built:
    """A bm25s matrix and the chunk id of each of its rows, as of one generation of the database."""

    generation: str
    model: Any  # bm25s.BM25, or None for an empty index
    ids: list[str]
    rows: dict[str, int] = field(init=False)  # chunk id -> row

    def __post_init__(self) -> None:
        self.rows = {chunk_id: row for row, chunk_id in enumerate(self.ids)}


class BM25Index:
    """Okapi BM25 over chunk terms, kept in step with the store chunk by chunk."""

    class Config(StageConfig):
        stemming: bool = True  # Snowball stemming of English words
        stopwords: bool = True  # drop English stop words
        chinese: Segmenter = "bigrams"  # or jieba; see ragkit/indexes/tokenizers.py
        k1: float = Field(default=1.5, ge=0)  # term-frequency saturation
        b: float = Field(default=0.75, ge=0, le=1)  # document-length normalisation

    def __init__(self, config: Config, *, path: Path):
        self.config = config
        self.path = Path(path)
        self.tokenizer = Tokenizer(stemming=config.stemming, stopwords=config.stopwords, chinese=config.chinese)
        self._connection: sqlite3.Connection | None = None
        self._built: _Built | None = None
        # One connection and one held matrix, shared by the threads of a server: one at a time.
        self._lock = threading.RLock()

    # writing -----------------------------------------------------------------

    @_locked
    def upsert(self, ids: Sequence[str], chunks: Sequence[Chunk]) -> None:
        if not ids:
            return  # no new generation: the built matrix stays current
        rows = [
            (
                chunk_id,
                chunk.text,
                json.dumps(stored_metadata(chunk.metadata), ensure_ascii=False),
                " ".join(self.tokenizer(chunk.text)),  # terms never contain spaces
            )
            for chunk_id, chunk in zip(ids, chunks, strict=True)
        ]
        with self._writing() as db:
            db.executemany("INSERT OR REPLACE INTO chunks VALUES (?, ?, ?, ?)", rows)

    @_locked
    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self._writing() as db:
            for start in range(0, len(ids), _IDS_PER_STATEMENT):
                batch = list(ids[start : start + _IDS_PER_STATEMENT])
                db.execute(f"DELETE FROM chunks WHERE id IN ({_marks(batch)})", batch)

    @_locked
    def clear(self) -> None:
        with self._writing() as db:
            db.execute("DELETE FROM chunks")

    @_locked
    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    # searching ---------------------------------------------------------------

    @_locked
    def refresh(self) -> None:
        self._current()

    def warm_up(self) -> None:
        """Load the saved matrix (or build it) before the first search."""
        self.refresh()

    @_locked
    def search(self, queries: Sequence[str], k: int, where: Where | None = None) -> list[list[Hit]]:
        built = self._current()
        if built.model is None or k <= 0:
            return [[] for _ in queries]
        mask = self._mask(built, where) if where else None
        found: list[list[tuple[str, float]]] = []
        query_terms: list[set[str]] = []
        for query in queries:
            terms = self.tokenizer(query)
            scores = built.model.get_scores(terms, weight_mask=mask) if terms else np.zeros(len(built.ids))
            top = np.argpartition(-scores, min(k, len(scores)) - 1)[:k]
            top = top[np.argsort(-scores[top], kind="stable")]
            found.append([(built.ids[row], float(scores[row])) for row in top if scores[row] > 0])
            query_terms.append(set(terms))
        stored = self._rows({chunk_id for hits in found for chunk_id, _ in hits})
        # A chunk deleted since the matrix was built (by a concurrent ingest) is simply left out.
        return [
            [self._hit(chunk_id, score, *stored[chunk_id], terms) for chunk_id, score in hits if chunk_id in stored]
            for hits, terms in zip(found, query_terms)
        ]

    def _hit(
        self, chunk_id: str, score: float, text: str, metadata: dict[str, Any], terms: set[str], query_terms: set[str]
    ) -> Hit:
        """A hit whose ``scores`` also say which share of the query's distinct terms the chunk contains.

        That share is evidence a BM25 score cannot give on its own scale: a
        chunk with every term of the question is on topic whatever the corpus.
        """
        matched = len(query_terms & terms) / len(query_terms)
        return Hit(id=chunk_id, text=text, score=score, metadata=metadata, scores={"keyword": score, "matched": matched})

    def _rows(self, ids: set[str]) -> dict[str, tuple[str, dict[str, Any], set[str]]]:
        """Each chunk's text, metadata and stored terms (tokenized once, at upsert)."""
        rows: dict[str, tuple[str, dict[str, Any], set[str]]] = {}
        listed = list(ids)
        for start in range(0, len(listed), _IDS_PER_STATEMENT):
            batch = listed[start : start + _IDS_PER_STATEMENT]
            query = f"SELECT id, text, metadata, terms FROM chunks WHERE id IN ({_marks(batch)})"
            for chunk_id, text, metadata, terms in self._db.execute(query, batch):
                rows[chunk_id] = (text, json.loads(metadata), set(terms.split()))
        return rows

    def _mask(self, built: _Built, where: Where) -> np.ndarray:
        """1.0 for the rows whose stored metadata matches every key of ``where``, else 0.0."""
        for key, value in where.items():
            if key.startswith("$") or isinstance(value, (dict, list)):
                raise ValueError(
                    f"the bm25 index filters on metadata KEY=VALUE pairs only, not {key!r}: {value!r}; "
                    'write the filter as {"key": value, ...} (all must match)'
                )
        condition = " AND ".join("json_extract(metadata, ?) = ?" for _ in where)
        parameters = [item for key, value in where.items() for item in (_json_path(key), value)]
        mask = np.zeros(len(built.ids), dtype=np.float32)
        for (chunk_id,) in self._db.execute(f"SELECT id FROM chunks WHERE {condition}", parameters):
            row = built.rows.get(chunk_id)
            if row is not None:
                mask[row] = 1.0
        return mask

    # the built matrix --------------------------------------------------------

    def _current(self) -> _Built:
        """The matrix of the database's current generation: the one held, the one saved, or a new build."""
        generation = self._generation()
        if self._built is not None and self._built.generation == generation:
            return self._built
        folder = self._folder(generation)
        if folder.is_dir():
            try:
                self._built = _load(folder, generation)
                return self._built
            except (OSError, ValueError) as exc:  # removed or replaced while loading: build our own
                log.info("keyword index: rebuilding, the saved matrix could not be read (%s)", exc)
        self._built = self._build()
        return self._built

    def _build(self) -> _Built:
        """Build the matrix from the stored terms (read in one snapshot) and save it for other processes.

        Rows are streamed and each term becomes the vocabulary's shared id as it is read: a list of
        term strings for every chunk at once cost 2.3 GB for 177,000 chunks, ids cost a list slot.
        """
        bm25s = _bm25s()
        db = self._db
        ids: list[str] = []
        documents: list[list[int]] = []
        vocabulary: dict[str, int] = {"": 0}  # bm25s wants the empty term, which scores chunks without terms
        db.execute("BEGIN")
        try:
            generation = self._generation()
            for chunk_id, terms in db.execute("SELECT id, terms FROM chunks ORDER BY rowid"):
                ids.append(chunk_id)
                documents.append([vocabulary.setdefault(term, len(vocabulary)) for term in terms.split()])
        finally:
            db.execute("COMMIT")
        if not ids:
            return _Built(generation, None, [])
        model = bm25s.BM25(k1=self.config.k1, b=self.config.b)
        model.index((documents, vocabulary), show_progress=False)
        del documents  # the term ids are in the matrix now; free them before the save
        built = _Built(generation, model, ids)
        self._save(built)
        return built

    def _save(self, built: _Built) -> None:
        """Write the matrix under a temporary name, rename it into place, and drop older ones."""
        folder = self._folder(built.generation)
        staging = self.path / f"staging-{uuid.uuid4().hex}"
        built.model.save(staging, show_progress=False)
        (staging / "ids.json").write_text(json.dumps(built.ids), encoding="utf-8")
        try:
            os.rename(staging, folder)
        except OSError:  # another process saved this generation first
            shutil.rmtree(staging, ignore_errors=True)
        for old in self.path.glob("built-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)

    def _folder(self, generation: str) -> Path:
        """Named after the generation and the scoring parameters, so changing k1 or b rebuilds."""
        return self.path / f"built-{generation}-k1={self.config.k1}-b={self.config.b}"

    # the database ------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        """Opened on first use; terms made with other tokenizer settings are dropped, to be re-indexed."""
        if self._connection is None:
            self.path.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path / "terms.sqlite", isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            self._connection = db
            row = db.execute("SELECT value FROM meta WHERE key = 'tokenizer'").fetchone()
            if row is None or row[0] != self.tokenizer.fingerprint:
                if row is not None:
                    log.warning("keyword index: tokenizer settings changed, its chunks will be indexed again")
                with self._writing() as writing:
                    writing.execute("DELETE FROM chunks")
                    writing.execute("INSERT OR REPLACE INTO meta VALUES ('tokenizer', ?)", (self.tokenizer.fingerprint,))
        return self._connection

    def _generation(self) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return row[0] if row else "empty"

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One write transaction that also stamps a new generation, so every reader sees the change."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("INSERT OR REPLACE INTO meta VALUES ('generation', ?)", (uuid.uuid4().hex,))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


def _load(folder: Path, generation: str) -> _Built:
    ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
    return _Built(generation, _bm25s().BM25.load(folder, show_progress=False), ids)


@functools.cache
def _bm25s() -> Any:
    """bm25s, imported on first use; it sets its own logger to DEBUG, which would flood an application's log."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _json_path(key: str) -> str:
    """A JSON path naming one top-level key, quoted so that dots and spaces in it are literal."""
    return '$."' + key.replace('"', '\\"') + '"'
