"""The ingest manifest and the store lock, on real SQLite files and real processes."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ragkit.ingest.manifest import Entry, Manifest, StoreLockedError, exclusive, file_digest


def test_rows_round_trip_per_root(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    with Manifest(path) as manifest:
        assert manifest.fingerprint() is None and manifest.entries("/r") == {}
        manifest.reset("fp1")
        manifest.commit("/r", [Entry("a.md", 3, 7, "d", ["id1", "id2"]), Entry("b.txt", 0, 8, "e", [], "empty file")])
        manifest.commit("/other", [Entry("a.md", 1, 1, "f", ["id3"])])
    with Manifest(path) as manifest:
        assert manifest.fingerprint() == "fp1"
        assert manifest.entries("/r") == {
            "a.md": Entry("a.md", 3, 7, "d", ["id1", "id2"]),
            "b.txt": Entry("b.txt", 0, 8, "e", [], "empty file"),
        }
        manifest.commit("/r", removed=["a.md"])
        assert set(manifest.entries("/r")) == {"b.txt"} and set(manifest.entries("/other")) == {"a.md"}
        manifest.reset("fp2")
        assert manifest.entries("/other") == {} and manifest.fingerprint() == "fp2"
        manifest.reset(None)
        assert manifest.fingerprint() is None


def test_commit_clears_pending_marks(tmp_path: Path) -> None:
    with Manifest(tmp_path / "m.sqlite") as manifest:
        manifest.mark_pending("/r", ["a.md", "b.md", "c.md"])
        manifest.commit("/r", [Entry("a.md", 1, 1, "d")], removed=["b.md"])
        assert manifest.pending("/r") == {"c.md"} and manifest.pending("/other") == set()


def test_readonly_never_creates_or_writes(tmp_path: Path) -> None:
    path = tmp_path / "store" / "m.sqlite"
    with Manifest(path, readonly=True) as manifest:
        assert manifest.entries("/r") == {} and manifest.fingerprint() is None
    assert not path.parent.exists()
    with Manifest(path) as manifest:
        manifest.reset("fp")
    with Manifest(path, readonly=True) as manifest:
        assert manifest.fingerprint() == "fp"
        with pytest.raises(Exception, match="readonly"):
            manifest.reset("other")


def test_file_digest_depends_on_content_only(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"same")
    (tmp_path / "b").write_bytes(b"same")
    (tmp_path / "c").write_bytes(b"other")
    assert file_digest(tmp_path / "a") == file_digest(tmp_path / "b") != file_digest(tmp_path / "c")


def test_lock_fails_at_once_while_another_process_holds_it(tmp_path: Path) -> None:
    lock = tmp_path / "store" / "ragkit.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from ragkit.ingest.manifest import exclusive; from pathlib import Path\n"
         f"with exclusive(Path({str(lock)!r})):\n    print('held', flush=True); input()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(StoreLockedError, match=f"another ingest \\(pid {holder.pid}\\) is writing to this store"):
            with exclusive(lock):
                pass
    finally:
        holder.communicate("\n", timeout=30)
    with exclusive(lock):  # released with its holder
        assert lock.read_text() == str(os.getpid())


def test_a_manifest_from_before_document_counts_gains_the_column_and_counts_once_rows_have_them(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:  # the schema before ``documents`` was kept
        db.execute(
            "CREATE TABLE files (root TEXT NOT NULL, source TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, "
            "digest TEXT NOT NULL, chunk_ids TEXT NOT NULL, error TEXT, PRIMARY KEY (root, source))"
        )
        db.execute("INSERT INTO files VALUES ('/r', 'a.md', 1, 1, 'd', '[\"c1\"]', NULL)")
    with Manifest(path, readonly=True) as manifest:
        assert manifest.totals() is None and manifest.entries("/r")["a.md"].documents is None
    with Manifest(path) as manifest:
        assert manifest.totals() is None
        manifest.commit("/r", [Entry("a.md", 1, 1, "d", ["c1", "c2"], documents=2), Entry("b.pdf", 1, 1, "e", ["c3"], documents=3)])
        assert manifest.totals() == (2, 5)
