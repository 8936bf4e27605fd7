"""The batcher both engines write through: a file's row goes in with its last chunk, and not before (a real embedded Chroma)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ragkit.ingest.batching import Batcher, Part
from ragkit.ingest.collection import Collection
from ragkit.ingest.manifest import Entry, Manifest
from ragkit.stores.chroma import ChromaStore
from ragkit.types import Chunk, IngestReport

ROOT = "/docs"


def _chunk(source: str, n: int) -> Chunk:
    return Chunk(f"{source} part {n}", {"root": ROOT, "source": source, "ordinal": n})


def _vector(n: int) -> np.ndarray:
    vector = np.zeros(8, dtype=np.float32)
    vector[n % 8] = 1.0
    return vector


def test_a_file_over_several_batches_is_committed_with_its_last_part(tmp_path: Path) -> None:
    store = ChromaStore(ChromaStore.Config(path=str(tmp_path / "store")))
    report = IngestReport()
    with Manifest(tmp_path / "manifest.sqlite") as manifest:
        batcher = Batcher(manifest, ROOT, Collection(store, None), report, limit=2, embed=None)
        part = Part("big.md", Entry("big.md", 10, 1, "d1"), fresh=True)
        for n in range(5):
            part = batcher.add(part, _chunk("big.md", n), _vector(n))
        # two full batches written, the file's row not committed: it stays pending
        assert store.count() == 4 and manifest.pending(ROOT) == {"big.md"} and manifest.entries(ROOT) == {}
        assert batcher.end(part, None, 1, is_new=True) == 5
        unreadable = Part("gone.md", None)
        assert batcher.end(unreadable, "cannot read file: No such file or directory", 0, is_new=True) == 0
        batcher.close()
        rows = manifest.entries(ROOT)
        assert manifest.pending(ROOT) == set() and list(rows) == ["big.md"]
        assert rows["big.md"].chunk_ids == [_chunk("big.md", n).id for n in range(5)] and rows["big.md"].documents == 1
    assert sorted(store.ids()) == sorted(rows["big.md"].chunk_ids)
    assert report.added == ["big.md"] and report.chunks_written == 5 and report.files_loaded == 1
    assert [(failed.path, failed.reason) for failed in report.failed] == [("gone.md", "cannot read file: No such file or directory")]
