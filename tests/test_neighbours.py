"""Small-to-big over a real Chroma store: a hit joined with its neighbours by their offsets, within its document."""

from pathlib import Path

import numpy as np

from ragkit.neighbours import widen
from ragkit.stores.chroma import ChromaStore
from ragkit.types import Chunk, Hit

DOCUMENT = "One. Two is here. Three follows two. Four ends it."
# Overlapping spans, as the chunker writes them: each chunk repeats the end of the one before.
SPANS = [(0, 17), (10, 36), (27, 50)]


def _store(tmp_path: Path) -> ChromaStore:
    store = ChromaStore(ChromaStore.Config(path=str(tmp_path / "chroma")))
    chunks = [
        Chunk(DOCUMENT[start:end], {"root": "/docs", "source": "a.md", "ordinal": n, "start": start, "end": end})
        for n, (start, end) in enumerate(SPANS)
    ]
    other = Chunk("Another file.", {"root": "/docs", "source": "b.md", "ordinal": 0, "start": 0, "end": 13})
    store.upsert([*chunks, other], np.eye(4, 8, dtype=np.float32))
    return store


def _hit(n: int) -> Hit:
    start, end = SPANS[n]
    metadata = {"root": "/docs", "source": "a.md", "ordinal": n, "start": start, "end": end}
    return Hit(id=f"hit{n}", text=DOCUMENT[start:end], score=0.9, metadata=metadata)


def test_a_hit_is_widened_to_its_neighbours_without_repeating_the_overlap(tmp_path: Path) -> None:
    store = _store(tmp_path)
    [middle, first] = widen([_hit(1), _hit(0)], store, 1)
    assert middle.text == DOCUMENT
    assert first.text == DOCUMENT[:36]  # no chunk before the first; the other file is not a neighbour
    assert (middle.id, middle.score, middle.metadata) == ("hit1", 0.9, _hit(1).metadata)


def test_no_neighbours_leaves_the_hits_as_retrieved(tmp_path: Path) -> None:
    assert widen([_hit(1)], _store(tmp_path), 0) == [_hit(1)]
