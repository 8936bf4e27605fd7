"""A small real corpus for the retrievers: MiniLM vectors in Chroma beside a BM25 index, built once per module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ragkit.embedders.sentence_transformers import SentenceTransformerEmbedder
from ragkit.indexes.bm25 import BM25Index
from ragkit.stores.chroma import ChromaStore
from ragkit.types import Chunk

# Three near-copies of one paragraph (the case MMR is for), an error code that embeddings blur,
# and a few unrelated passages; half of it in a PDF, for filters.
PASSAGES = [
    ("serving/a.md", "md", "The Heron serving stack allows 48 concurrent sequences per GPU before it queues requests."),
    ("serving/b.md", "md", "The Heron serving stack allows 48 concurrent sequences per GPU before requests are queued."),
    ("serving/c.md", "md", "Heron, our serving stack, allows 48 concurrent sequences on each GPU before it queues requests."),
    ("serving/gpu.pdf", "pdf", "GPU memory holds the weights and the KV cache of every running sequence."),
    ("errors.pdf", "pdf", "Error E-7731 means the loader found a checksum mismatch in a weights shard."),
    ("errors.md", "md", "When the server cannot start, read its log from the top and fix the first error."),
    ("chunking.md", "md", "The Lumen chunker splits documents into pieces of 220 tokens with an overlap of 40."),
    ("birds.md", "md", "The osprey dives for fish near the harbor at dawn."),
    ("zh/backup.md", "md", "备份文件默认保存在 /srv/backup 目录下，每天凌晨三点运行一次。"),
    ("zh/network.md", "md", "要让普通用户管理网络连接，请把用户加入 netdev 用户组。"),
]


@dataclass
class Corpus:
    embedder: SentenceTransformerEmbedder
    store: ChromaStore
    index: BM25Index
    ids: dict[str, str]  # source -> chunk id


@pytest.fixture(scope="module")
def corpus(minilm: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder: Path = tmp_path_factory.mktemp("corpus")
    store = ChromaStore(ChromaStore.Config(path=str(folder / "store")))
    index = BM25Index(BM25Index.Config(), path=folder / "index-bm25")
    chunks = [Chunk(text, {"source": source, "file_type": file_type, "ordinal": 0}) for source, file_type, text in PASSAGES]
    store.upsert(chunks, minilm.embed_documents([chunk.text for chunk in chunks]))
    index.upsert([chunk.id for chunk in chunks], chunks)
    return Corpus(minilm, store, index, {chunk.metadata["source"]: chunk.id for chunk in chunks})
