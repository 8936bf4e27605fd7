"""RecursiveChunker against the real all-MiniLM-L6-v2 tokenizer."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from chunkers.chunk_helpers import check_chunks, chinese_text, english_text, shared

from ragkit.chunkers.base import TokenCounter
from ragkit.chunkers.recursive import RecursiveChunker
from ragkit.types import Document


def make(counter: TokenCounter, **params: Any) -> RecursiveChunker:
    return RecursiveChunker(RecursiveChunker.Config(**params), counter=counter)


@pytest.mark.parametrize(("size", "overlap"), [(40, 0), (100, 20), (200, 30)])
def test_chunks_fit_token_size_and_are_well_filled(
    minilm_counter: TokenCounter, size: int, overlap: int
) -> None:
    document = Document(english_text(60), {"source": "a.md"})
    chunks = list(make(minilm_counter, size=size, overlap=overlap).chunk(document))
    counts = check_chunks(document, chunks, minilm_counter, max_tokens=size)
    assert sum(counts[:-1]) / len(counts[:-1]) > size * 0.6, "greedy merging should fill chunks"


@pytest.mark.parametrize(("size", "overlap"), [(80, 0), (300, 50), (1000, 100)])
def test_chunks_fit_character_size(minilm_counter: TokenCounter, size: int, overlap: int) -> None:
    document = Document(english_text(60, seed=1), {"source": "a.md"})
    chunks = list(make(minilm_counter, size=size, overlap=overlap, unit="characters").chunk(document))
    check_chunks(document, chunks, minilm_counter, max_chars=size)
    assert max(len(chunk.text) for chunk in chunks) > size * 0.7


def test_huge_character_size_is_still_held_to_the_embedder_limit(minilm_counter: TokenCounter) -> None:
    for text in (english_text(80, seed=2), chinese_text(40)):
        document = Document(text, {"source": "big.txt"})
        chunks = list(make(minilm_counter, size=100_000, overlap=0, unit="characters").chunk(document))
        counts = check_chunks(document, chunks, minilm_counter)
        assert len(chunks) > 1 and max(counts) > 200


def test_token_size_above_the_embedder_limit_is_capped(
    minilm_counter: TokenCounter, caplog: pytest.LogCaptureFixture
) -> None:
    document = Document(english_text(80, seed=3), {"source": "a.md"})
    chunker = make(minilm_counter, size=1000, overlap=100)
    with caplog.at_level(logging.WARNING, logger="ragkit.chunkers.spans"):
        chunks = list(chunker.chunk(document))
        list(chunker.chunk(document))
    assert caplog.text.count("more than the embedder takes") == 1
    counts = check_chunks(document, chunks, minilm_counter)
    assert max(counts) > 200
    assert all(shared(chunks, document)), "the overlap survives the cap"


def test_overlap_repeats_the_end_of_the_previous_chunk(minilm_counter: TokenCounter) -> None:
    document = Document(english_text(40, seed=4), {"source": "a.md"})
    chunks = list(make(minilm_counter, size=80, overlap=20).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=80)
    repeated = shared(chunks, document)
    assert all(repeated)
    for previous, text in zip(chunks, repeated, strict=False):
        assert previous.text.endswith(text)
        assert minilm_counter.count_tokens([text])[0] <= 20


def test_overlap_in_characters(minilm_counter: TokenCounter) -> None:
    document = Document(english_text(40, seed=5), {"source": "a.md"})
    chunks = list(make(minilm_counter, size=400, overlap=60, unit="characters").chunk(document))
    check_chunks(document, chunks, minilm_counter, max_chars=400)
    assert all(0 < len(text) <= 60 for text in shared(chunks, document))


def test_overlap_falls_back_to_characters_when_words_are_longer(minilm_counter: TokenCounter) -> None:
    word = "abc-" * 1250  # one 5000-character word of 2500 tokens
    document = Document(f"Start here. {word} The end.", {"source": "blob.txt"})
    chunks = list(make(minilm_counter, size=60, overlap=5).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=60)
    repeated = shared(chunks, document)
    assert all(repeated)
    assert all(minilm_counter.count_tokens(repeated)[i] <= 5 for i in range(len(repeated)))


def test_paragraphs_that_fit_are_kept_whole(minilm_counter: TokenCounter) -> None:
    document = Document(english_text(30, seed=6, sentences=(1, 3)), {"source": "a.md"})
    chunks = list(make(minilm_counter, size=150, overlap=0).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=150)
    text = document.text
    for chunk in chunks:
        start, end = chunk.metadata["start"], chunk.metadata["end"]
        assert start == 0 or text[start - 2 : start] == "\n\n"
        assert end == len(text) or text[end : end + 2] == "\n\n"


def test_long_paragraphs_are_cut_at_sentence_ends(minilm_counter: TokenCounter) -> None:
    paragraph = english_text(1, seed=7, sentences=(60, 60))
    document = Document(paragraph, {"source": "a.txt"})
    chunks = list(make(minilm_counter, size=100, overlap=0).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=100)
    assert all(re.search(r"[.!?]\"?$", chunk.text) for chunk in chunks)


def test_chinese_without_spaces_is_cut_at_full_width_punctuation(minilm_counter: TokenCounter) -> None:
    document = Document(chinese_text(20, seed=8), {"source": "zh.md"})
    for params, limits in (
        ({"size": 60, "overlap": 0}, {"max_tokens": 60}),
        ({"size": 80, "overlap": 0, "unit": "characters"}, {"max_chars": 80}),
    ):
        chunks = list(make(minilm_counter, **params).chunk(document))
        check_chunks(document, chunks, minilm_counter, **limits)
        assert len(chunks) > 5
        assert all(chunk.text[-1] in "。！？；”" for chunk in chunks)


def test_chinese_with_overlap(minilm_counter: TokenCounter) -> None:
    document = Document(chinese_text(20, seed=9), {"source": "zh.md"})
    chunks = list(make(minilm_counter, size=60, overlap=15).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=60)
    repeated = shared(chunks, document)
    assert all(repeated) and max(minilm_counter.count_tokens(repeated)) <= 15


def test_long_cjk_run_without_punctuation(minilm_counter: TokenCounter) -> None:
    document = Document("检索增强生成" * 2000, {"source": "zh.txt"})
    chunks = list(make(minilm_counter, size=100, overlap=10).chunk(document))
    counts = check_chunks(document, chunks, minilm_counter, max_tokens=100)
    assert min(counts[:-1]) > 80
    chunks = list(make(minilm_counter, size=500, overlap=0, unit="characters").chunk(document))
    check_chunks(document, chunks, minilm_counter, max_chars=500)
    assert "".join(chunk.text for chunk in chunks) == document.text


def test_single_huge_word(minilm_counter: TokenCounter) -> None:
    document = Document("x" * 5000, {"source": "blob.txt"})
    chunks = list(make(minilm_counter, size=300, overlap=0, unit="characters").chunk(document))
    check_chunks(document, chunks, minilm_counter, max_chars=300)
    assert "".join(chunk.text for chunk in chunks) == document.text

    document = Document("a.b," * 1250, {"source": "blob.txt"})  # every character is a token
    chunks = list(make(minilm_counter, size=100, overlap=10).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=100)


def test_metadata_is_the_documents_plus_position(minilm_counter: TokenCounter) -> None:
    metadata = {"source": "guide.md", "file_type": "markdown", "doc_hash": "abc", "title": "Guide"}
    document = Document(english_text(20, seed=10), metadata)
    chunks = list(make(minilm_counter, size=60, overlap=10).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=60)
    assert [chunk.metadata["ordinal"] for chunk in chunks] == list(range(len(chunks)))
    chunks[0].metadata["title"] = "changed"
    assert document.metadata["title"] == "Guide"
    assert set(chunks[1].metadata) == {*metadata, "ordinal", "start", "end"}


def test_offsets_are_exact_with_surrounding_whitespace(minilm_counter: TokenCounter) -> None:
    document = Document("\n\n   Hello world.  \n\n\tSecond paragraph here.   \n", {"source": "a.txt"})
    chunks = list(make(minilm_counter, size=5, overlap=0).chunk(document))
    check_chunks(document, chunks, minilm_counter, max_tokens=5)
    assert [chunk.text for chunk in chunks] == ["Hello world.", "Second paragraph here."]
