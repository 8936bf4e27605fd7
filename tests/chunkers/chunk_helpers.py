"""Helpers for the chunker tests: sample texts and the checks every chunker must pass."""

from __future__ import annotations

import random
from collections.abc import Sequence
from itertools import pairwise

from ragkit.chunkers.base import TokenCounter
from ragkit.types import Chunk, Document


class CharCounter:
    """One token per non-space character: makes expected splits easy to reason about."""

    def __init__(self, max_tokens: int = 254) -> None:
        self._max_tokens = max_tokens

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len("".join(text.split())) for text in texts]


_SENTENCES = [
    "Retrieval systems rarely index whole documents.",
    "A fifty-page manual turned into a single vector would blur every topic it covers into one average.",
    "Chunk size is a trade-off between precision and context!",
    "Small chunks are precise, but they may lack the context needed to answer a question.",
    "Large chunks carry more context but mix several topics, which dilutes their embeddings.",
    "Why would anyone split a table in the middle of a row?",
    "The embedding model truncates its input at a fixed number of tokens (usually 256 or 512).",
    "Overlap repeats the end of one chunk at the start of the next, so a fact cut in two is still found.",
    "Dense retrieval compares vectors; sparse retrieval compares words.",
    "Reciprocal rank fusion merges both lists without having to calibrate their scores.",
    'She said "restart the service afterwards." Then she left.',
    "Version 2.5.1 fixed the cache; see e.g. the release notes.",
]

_CHINESE = [
    "检索增强生成先从文档库中找出与问题相关的片段。",
    "然后把这些片段和问题一起交给模型！",
    "为什么要切分文档？",
    "嵌入模型的输入长度有限；过长的文本会被截断。",
    "向量检索比较的是语义，而关键词检索只看字面是否相同。",
    "他说：“先重启服务。”然后离开了。",
    "维度越高，能表达的细节越多，但占用的存储空间和计算量也越大。",
]


def english_text(paragraphs: int, seed: int = 0, sentences: tuple[int, int] = (1, 8)) -> str:
    """Prose-like text: paragraphs of known sentences, with the odd heading and wrapped line."""
    rng = random.Random(seed)
    parts = []
    for index in range(paragraphs):
        body = " ".join(rng.choice(_SENTENCES) for _ in range(rng.randint(*sentences)))
        if index % 5 == 0:
            parts.append(f"## Section {index}")
        if index % 7 == 3:
            body = body.replace(", ", ",\n", 1)
        parts.append(body)
    return "\n\n".join(parts)


def chinese_text(paragraphs: int, seed: int = 0) -> str:
    """Chinese paragraphs without spaces between sentences."""
    rng = random.Random(seed)
    return "\n\n".join(
        "".join(rng.choice(_CHINESE) for _ in range(rng.randint(2, 10))) for _ in range(paragraphs)
    )


def check_chunks(
    document: Document,
    chunks: list[Chunk],
    counter: TokenCounter,
    *,
    max_tokens: int | None = None,
    max_chars: int | None = None,
) -> list[int]:
    """Assert what every chunker promises; returns the chunks' real token counts."""
    text = document.text
    assert chunks, "a document with text must give chunks"
    covered = 0
    for ordinal, chunk in enumerate(chunks):
        start, end = chunk.metadata["start"], chunk.metadata["end"]
        assert chunk.metadata["ordinal"] == ordinal
        assert chunk.text == text[start:end]
        assert chunk.text and chunk.text == chunk.text.strip()
        assert {key: chunk.metadata[key] for key in document.metadata} == document.metadata
        assert not text[covered:start].strip(), f"text lost before chunk {ordinal}: {text[covered:start]!r}"
        if ordinal:
            previous = chunks[ordinal - 1].metadata
            assert start > previous["start"] and end > previous["end"], "chunks must move forward"
        covered = max(covered, end)
        if max_chars is not None:
            assert len(chunk.text) <= max_chars
    assert not text[covered:].strip(), "text lost at the end"
    counts = counter.count_tokens([chunk.text for chunk in chunks])
    limit = min(max_tokens or counter.max_tokens, counter.max_tokens)
    assert max(counts) <= limit, f"a chunk has {max(counts)} tokens, limit {limit}"
    return counts


def shared(chunks: list[Chunk], document: Document) -> list[str]:
    """The text each chunk repeats from the one before ('' where none)."""
    texts = []
    for previous, chunk in pairwise(chunks):
        start, previous_end = chunk.metadata["start"], previous.metadata["end"]
        texts.append(document.text[start:previous_end] if start < previous_end else "")
    return texts
