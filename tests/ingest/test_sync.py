"""The ingest reads each file once: counted with Python's audit hook on ``open``, on the real store."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

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
    # A new size is a change without a digest; a new mtime at the same size is digested (the touched file
    # ends there), and an edit of the same size then read once more by its loader.
    assert opens == Counter({"grown.md": 1, "touched.md": 1, "same-size.md": 2})
    assert "falcon" in rag.retrieve("falcon dives", k=1)[0].text
    assert "heron waits" in rag.retrieve("heron waits", k=1)[0].text
