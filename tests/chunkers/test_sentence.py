"""SentenceChunker against the real all-MiniLM-L6-v2 tokenizer."""

from __future__ import annotations

import re
from typing import Any

import pytest
from chunkers.chunk_helpers import check_chunks, chinese_text, english_text, shared

from ragkit.chunkers.base import TokenCounter
from ragkit.chunkers.sentence import SentenceChunker
from ragkit.types import Document

# Where a sentence may start: the document start, after a blank line, or after closing punctuation and space.
_SENTENCE_START = re.compile(r"(?:^|\n\s*\n|[.!?][\"']?\s+|[。！？；”])$")


def make(counter: TokenCounter, **params: Any) -> SentenceChunker:
    return SentenceChunker(SentenceChunker.Config(**params), counter=counter)


def starts_sentence(text: str, start: int) -> bool:
    return bool(_SENTENCE_START.search(text[:start]))


@pytest.mark.parametrize(("size", "overlap"), [(60, 0), (150, 30)])
def test_chunks_are_whole_sentences_within_size(
    minilm_counter: TokenCounter, size: int, overlap: int
) -> None:
    document = Document(english_text(40, seed=20), {"source": "a.md"})
    chunks = list(make(minilm_counter, size=size, overlap=overlap).chunk(document))
    counts = check_chunks(document, chunks, minilm_counter, max_tokens=size)
    assert sum(counts) / len(counts) > size * 0.5
    for chunk in chunks:
        assert starts_sentence(document.text, chunk.metadata["start"]), chunk.text
        end = chunk.metadata["end"]
        assert re.search(r"[.!?]\"?$", chunk.text) or document.text[end : end + 2] in ("\n\n", "")


def test_overlap_is_whole_trailing_sentences(minilm_counter: TokenCounter) -> None:
    document = Document(english_text(40, seed=21), {"source": "a.md"})
    chunks = list(make(minilm_counter, size=120, overlap=40).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=120)
    repeated = shared(chunks, document)
    assert sum(bool(text) for text in repeated) > len(repeated) * 0.8
    for chunk, text in zip(chunks[1:], repeated, strict=True):
        if text:
            assert starts_sentence(document.text, chunk.metadata["start"])
            assert minilm_counter.count_tokens([text])[0] <= 40


def test_a_line_break_does_not_end_a_sentence(minilm_counter: TokenCounter) -> None:
    text = "This sentence was wrapped\nby a PDF extractor. Here is the next one."
    document = Document(text, {"source": "a.pdf"})
    chunks = list(make(minilm_counter, size=12, overlap=0).chunk(document))
    assert [chunk.text for chunk in chunks] == [
        "This sentence was wrapped\nby a PDF extractor.",
        "Here is the next one.",
    ]


def test_chinese_sentences(minilm_counter: TokenCounter) -> None:
    document = Document(chinese_text(20, seed=22), {"source": "zh.md"})
    for params, limits in (
        ({"size": 60, "overlap": 20}, {"max_tokens": 60}),
        ({"size": 90, "overlap": 0, "unit": "characters"}, {"max_chars": 90}),
    ):
        chunks = list(make(minilm_counter, **params).chunk(document))
        check_chunks(document, chunks, minilm_counter, **limits)
        for chunk in chunks:
            assert chunk.text[-1] in "。！？；”"
            assert starts_sentence(document.text, chunk.metadata["start"])


def test_sentence_longer_than_size_falls_back_to_words(minilm_counter: TokenCounter) -> None:
    long_sentence = " ".join(["retrieval augmented generation"] * 400) + "."
    document = Document(f"A short one. {long_sentence} Another short one.", {"source": "a.txt"})
    chunks = list(make(minilm_counter, size=50, overlap=10).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=50)
    assert chunks[0].text.startswith("A short one.")
    assert chunks[-1].text.endswith("Another short one.")


def test_cjk_run_and_huge_word_fall_back_to_characters(minilm_counter: TokenCounter) -> None:
    for text in ("检索增强生成" * 1000, "a.b," * 1250):
        document = Document(text, {"source": "blob.txt"})
        chunks = list(make(minilm_counter, size=100, overlap=10).chunk(document))
        check_chunks(document, chunks, minilm_counter, max_tokens=100)
