"""The vector store and the keyword index behind one object, which alone keeps the two in step.

Chunks go into the index after the store, and out of it before the store, so
a crash never leaves the index listing a chunk the store has not got. When
their counts differ (a store built before the index existed, a crash between
the two writes, new tokenizer settings) the index is rebuilt from the store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ragkit.indexes.base import KeywordIndex
from ragkit.stores.base import VectorStore
from ragkit.types import Chunk

log = logging.getLogger(__name__)


class Collection:
    """Writes and deletes chunks in the store and, when the pipeline has one, the keyword index."""

    def __init__(self, store: VectorStore, index: KeywordIndex | None):
        self.store, self.index = store, index

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self.store.upsert(chunks, vectors)
        if self.index is not None:
            self.index.upsert([chunk.id for chunk in chunks], chunks)

    def delete(self, ids: Sequence[str]) -> None:
        if self.index is not None:
            self.index.delete(ids)
        self.store.delete(ids)

    def delete_file(self, root: str, source: str, keep: set[str] | None = None) -> int:
        """Delete a file's chunks, all of them or all but ``keep``; returns how many went.

        Asking the store, not the manifest, also catches chunks a killed run wrote without a row.
        """
        stale = [i for i in self.store.ids({"root": root, "source": source}) if not keep or i not in keep]
        self.delete(stale)
        return len(stale)

    def clear(self) -> int:
        """Delete every chunk; returns how many went."""
        ids = self.store.ids()
        if self.index is not None:
            self.index.clear()
        self.store.delete(ids)
        return len(ids)

    def refresh(self) -> None:
        """Make the index's latest writes searchable (built once at the end of an ingest, not by the first question)."""
        if self.index is not None:
            self.index.refresh()

    def sync_index(self) -> None:
        """Rebuild the keyword index from the store's chunks when the two hold different numbers of chunks.

        The write order keeps the index's chunks a subset of the store's, so
        equal counts mean equal contents.
        """
        if self.index is None:
            return
        stored, indexed = self.store.count(), self.index.count()
        if stored == indexed:
            return
        log.info("keyword index has %d chunks, the store %d: rebuilding it from the store", indexed, stored)
        self.index.clear()
        done = 0
        for ids, chunks in self.store.scan():
            self.index.upsert(ids, chunks)
            done += len(ids)
            log.info("keyword index: %d/%d chunks", done, stored)
        self.index.refresh()
