"""A Chroma server that stops answering (``kill -STOP``): ragkit gives up after ``store.timeout`` in one line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chroma_server import HOST, ChromaServer
from ragkit.pipeline import RAG
from ragkit.stores.base import StoreUnavailableError

TIMEOUT = 2.0
HUNG = (
    "the Chroma server at {address} did not answer within 2s (store.timeout); it may be stopped or overloaded: "
    "check it, or raise store.timeout"
)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "data").start()
    try:
        yield server
    finally:
        assert server.process is not None
        server.process.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        server.stop()


def _stop(server: ChromaServer) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)


def _pipeline(tmp_path: Path, server: ChromaServer) -> Path:
    keys = {**server.store_keys(f"hung-{uuid.uuid4().hex}"), "timeout": TIMEOUT}
    path = tmp_path / "p.yaml"
    store = "".join(f"  {key}: {value}\n" for key, value in keys.items())
    path.write_text(f"state: {tmp_path / 'state'}\nstore:\n  type: chroma\n{store}")
    return path


def test_cli_ingest_and_retrieve_end_with_one_line_naming_the_server(tmp_path: Path, server: ChromaServer) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nHerons.\n")
    pipeline = _pipeline(tmp_path, server)
    _stop(server)
    for command in (["ingest", str(folder)], ["retrieve", "herons"]):
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "ragkit.cli", *command, "-q", "-p", str(pipeline)],
            capture_output=True, text=True, timeout=120,
        )
        assert time.monotonic() - started < 60, command  # python and torch start-up, then TIMEOUT
        assert result.returncode == 1 and result.stdout == ""
        assert result.stderr.strip().splitlines() == [f"ragkit: error: {HUNG.format(address=f'{HOST}:{server.port}')}"]


@pytest.mark.models
def test_a_server_stopped_after_connecting_times_out_and_is_used_again_once_it_resumes(
    tmp_path: Path, server: ChromaServer
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# Herons\n\nThe survey counted 48 herons near the lock.\n")
    rag = RAG.from_yaml(_pipeline(tmp_path, server))
    assert rag.ingest(folder, progress=False).chunks_written > 0
    rag.retrieve("herons", k=1)  # the embedder is loaded, the client connected
    _stop(server)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as hung:
        rag.retrieve("How many herons?", k=1)
    assert time.monotonic() - started < 4 * TIMEOUT
    assert str(hung.value) == HUNG.format(address=f"{HOST}:{server.port}")
    assert server.process is not None
    server.process.send_signal(signal.SIGCONT)
    assert rag.retrieve("How many herons?", k=1)[0].source == "a.md"
