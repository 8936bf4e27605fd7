"""The ingest reads each file once: counted with Python's audit hook on ``open``, on the real store."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import pytest

from ragkit.pipeline import RAG

# Opens seen by the audit hook, by path, while ``_counting`` holds the folder being watched.
_opens: Counter[str] = Counter()
_counting: list[str] = []


def _count_opens(event: str, args: tuple) -> None:
    if event == "open" and _counting and isinstance(args[0], (str, os.PathLike)):
        path = os.fspath(args[0])
        if path.startswith(_counting[0]):
            _opens[Path(path).name] += 1


sys.addaudithook(_count_opens)  # hooks cannot be removed; this one counts only while a test asks it to


def _rag(store: Path) -> RAG:
    return RAG.from_dict({"store": {"type": "chroma", "path": str(store)}, "index": None, "retriever": {"type": "dense"}})


def _ingest_counting(rag: RAG, folder: Path) -> Counter[str]:
    _opens.clear()
    _counting[:] = [str(folder)]
    try:
        rag.ingest(folder, progress=False)
    finally:
        _counting.clear()
    return Counter(_opens)


def test_each_file_is_read_once_and_an_unchanged_one_not_at_all(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in ("grown.md", "same-size.md", "touched.md", "kept.md"):
        (folder / name).write_text(f"# {name}\n\nThe osprey dives for fish.\n")
    rag = _rag(tmp_path / "store")
    assert _ingest_counting(rag, folder) == Counter({"grown.md": 1, "same-size.md": 1, "touched.md": 1, "kept.md": 1})

    (folder / "grown.md").write_text("# grown.md\n\nThe osprey dives for fish, and the heron waits.\n")
    (folder / "same-size.md").write_text("# same-size.md\n\nThe falcon dives for fish.\n")
    os.utime(folder / "touched.md", ns=(1, 1))
    opens = _ingest_counting(rag, folder)
    # A new size is a change without a digest; a new mtime at the same size is read once and digested: the
    # touched file ends there, unloaded, and the edit of the same size goes on to its loader with those bytes.
    assert opens == Counter({"grown.md": 1, "touched.md": 1, "same-size.md": 1})
    assert "falcon" in rag.retrieve("falcon dives", k=1)[0].text
    assert "heron waits" in rag.retrieve("heron waits", k=1)[0].text


def test_each_chunk_is_tokenized_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chunker counts words (each distinct one once); only the embedder tokenizes a whole chunk, once."""
    folder = tmp_path / "docs"
    folder.mkdir()
    paragraph = "The osprey dives for fish near the harbor at dawn, and the heron waits in the reeds. "
    (folder / "birds.md").write_text("# Birds\n\n" + "\n\n".join(f"{n}: {paragraph * 6}" for n in range(12)))
    rag = _rag(tmp_path / "store")
    rag.embedder.embed_documents(["warm"])  # the model loaded, and what it learns once about its tokenizer learnt
    tokenizer_class = type(rag.embedder.model.tokenizer)
    real_call = tokenizer_class.__call__
    tokenized: Counter[str] = Counter()

    def recording_call(self: object, texts: list[str], *args: object, **kwargs: object) -> object:
        tokenized.update(texts)  # the real tokenizer still answers
        return real_call(self, texts, *args, **kwargs)

    monkeypatch.setattr(tokenizer_class, "__call__", recording_call)
    report = rag.ingest(folder, progress=False)
    chunks = {chunk.text for _, page in rag.store.scan() for chunk in page}
    assert report.chunks_written == len(chunks) > 5
    assert all(tokenized[text] == 1 for text in chunks)
    pieces = [text for text in tokenized if text not in chunks]
    assert pieces and not any(" " in text for text in pieces)  # the chunker's: single words
    assert all(tokenized[text] == 1 for text in pieces)
