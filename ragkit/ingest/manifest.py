"""The ingest manifest and the store lock: what each ingested file looked like when its chunks were written.

Where it lives: among the pipeline's state files (``ragkit.ingest.state``), by
default next to an embedded store's own data, so the manifest goes wherever the
store goes (copy or delete the store folder and it follows). One SQLite file per collection holds:

- ``files``: one row per ``(root, source)`` with size, ``mtime_ns``, a content
  digest, the chunk ids written for it, and the reason if it could not be read;
- ``pending``: sources whose store writes have started but whose rows are not
  committed yet;
- ``meta``: the ingest fingerprint (chunker, embedder and loader settings) the
  store was built with.

Crash safety rests on the write order the pipeline keeps: mark a batch's
sources pending, write the store, then commit their rows and clear the marks in
one transaction. A kill at any point leaves at worst pending sources whose
chunks are partly written; the next run redoes them (deterministic chunk ids
make that an upsert, and stale ids are deleted), or deletes their chunks if the
file has gone since.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    root TEXT NOT NULL, source TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL, chunk_ids TEXT NOT NULL, error TEXT, documents INTEGER, PRIMARY KEY (root, source)
);
CREATE TABLE IF NOT EXISTS pending (root TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (root, source));
"""


class StoreLockedError(RuntimeError):
    """Another process is ingesting into the same store."""


class SettingsChangedError(RuntimeError):
    """The store was built with another ingest fingerprint; it must be rebuilt."""


@dataclass
class Entry:
    """One file as it was last ingested; ``error`` is set when it could not be read."""

    source: str
    size: int
    mtime_ns: int
    digest: str
    chunk_ids: list[str] = field(default_factory=list)
    error: str | None = None
    documents: int | None = None  # None in rows written before the count was kept


def file_digest(path: Path) -> str:
    """Content hash of a file, read in blocks so a huge file costs no memory (to tell a ``touch`` from an edit)."""
    with _open_regular(path) as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:32]


def read_file(path: Path) -> tuple[bytes, str]:
    """A file's bytes and their digest (the same as ``file_digest``'s), from one read: the loader gets these bytes."""
    with _open_regular(path) as handle:
        data = handle.read()
    return data, hashlib.sha256(data).hexdigest()[:32]


def _open_regular(path: Path) -> BinaryIO:
    """Opened without blocking and refused unless it is a regular file, so that a
    FIFO put where the walk saw a file cannot hang the ingest."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    handle = open(descriptor, "rb")
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        handle.close()
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return handle


class Manifest:
    """The SQLite manifest of one store; ``readonly`` never creates or changes the file (dry runs)."""

    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = path
        if readonly:
            location = f"{path.absolute().as_uri()}?mode=ro" if path.exists() else ":memory:"
            self._db = sqlite3.connect(location, uri=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            self._db.execute("PRAGMA journal_mode=WAL")
        if not path.exists() or not readonly:
            self._db.executescript(_SCHEMA)
            if "documents" not in self._columns():  # a manifest from before documents were counted
                self._db.execute("ALTER TABLE files ADD COLUMN documents INTEGER")

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc: object) -> None:
        self._db.close()

    def fingerprint(self) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'fingerprint'").fetchone()
        return row[0] if row else None

    def entries(self, root: str) -> dict[str, Entry]:
        documents = "documents" if "documents" in self._columns() else "NULL"
        rows = self._db.execute(
            f"SELECT source, size, mtime_ns, digest, chunk_ids, error, {documents} FROM files WHERE root = ?", (root,)
        )
        return {
            source: Entry(source, size, mtime_ns, digest, json.loads(chunk_ids), error, count)
            for source, size, mtime_ns, digest, chunk_ids, error, count in rows
        }

    def totals(self) -> tuple[int, int] | None:
        """Files with chunks and their documents, over every root; None while some row has no document count."""
        if "documents" not in self._columns():
            return None
        files, documents, unknown = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(documents), 0), COALESCE(SUM(documents IS NULL), 0) FROM files "
            "WHERE error IS NULL AND chunk_ids != '[]'"
        ).fetchone()
        return None if unknown else (int(files), int(documents))

    def _columns(self) -> set[str]:
        return {row[1] for row in self._db.execute("PRAGMA table_info(files)")}

    def lists_chunks(self) -> bool:
        """Whether any file, of any root, has chunks in the store according to this manifest."""
        return self._db.execute("SELECT 1 FROM files WHERE chunk_ids != '[]' LIMIT 1").fetchone() is not None

    def pending(self, root: str) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT source FROM pending WHERE root = ?", (root,))}

    def mark_pending(self, root: str, sources: Iterable[str]) -> None:
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO pending VALUES (?, ?)", [(root, s) for s in sources])

    def commit(self, root: str, entries: Iterable[Entry] = (), removed: Iterable[str] = ()) -> None:
        """Write ``entries`` and drop ``removed`` in one transaction, clearing their pending marks."""
        entries, removed = list(entries), list(removed)
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO files (root, source, size, mtime_ns, digest, chunk_ids, error, documents) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (root, e.source, e.size, e.mtime_ns, e.digest, json.dumps(e.chunk_ids), e.error, e.documents)
                    for e in entries
                ],
            )
            self._db.executemany("DELETE FROM files WHERE root = ? AND source = ?", [(root, s) for s in removed])
            self._db.executemany(
                "DELETE FROM pending WHERE root = ? AND source = ?",
                [(root, s) for s in [*(e.source for e in entries), *removed]],
            )

    def reset(self, fingerprint: str | None) -> None:
        """Forget every file and record the fingerprint the store is now built with (None: not known)."""
        with self._db:
            self._db.execute("DELETE FROM files")
            self._db.execute("DELETE FROM pending")
            self._db.execute("DELETE FROM meta WHERE key = 'fingerprint'")
            if fingerprint is not None:
                self._db.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))


@contextmanager
def exclusive(path: Path, server: str | None = None) -> Iterator[None]:
    """Hold the store's lock file for the duration, or fail at once if another process holds it.

    Failing beats waiting: an ingest can hold the lock for many minutes, and a
    second one started by mistake should say so, not hang. The lock is the
    operating system's (``flock`` on Linux and macOS, through ``filelock``),
    which dies with its process, so a killed ingest never leaves a stale lock
    behind; filelock's marker-file fallback, which would outlive a kill, is off.
    ``server`` is the URL of a ``ragkit serve`` that holds the lock for its
    lifetime; it goes into the file, so that a refused ingest can say where to ingest instead.
    """
    from filelock import FileLock, Timeout

    holder = (f"{os.getpid()} {server}" if server else str(os.getpid())).encode()

    def note_holder(descriptor: int) -> None:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, holder, 0)

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(
        path, blocking=False, thread_local=False, fallback_to_soft=False, preserve_lock_file=True, on_acquired=note_holder
    )
    try:
        lock.acquire()
    except Timeout:
        raise StoreLockedError(_held_by(_read_holder(path), path)) from None
    try:
        yield
    finally:
        lock.release()


def _read_holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def _held_by(holder: str, path: Path) -> str:
    """Who holds the lock, from what it wrote in the file, and what to do about it."""
    pid, _, server = holder.partition(" ")
    if server:
        return (
            f"a ragkit server (pid {pid}, {server}) holds this store and would not see chunks another process "
            f"writes; ingest through it: `ragkit ingest --via {server} PATH`, or POST {server}/v1/ingest "
            f"(lock file {path})"
        )
    return (
        f"another ingest (pid {pid or 'unknown'}) is writing to this store; run again when it has finished "
        f"(lock file {path})"
    )
