"""What both chunkers promise: config checks, empty input, determinism, the token cap, speed on big files."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pytest
from chunkers.chunk_helpers import check_chunks, chinese_text, english_text, shared
from pydantic import ValidationError

from ragkit import registry
from ragkit.chunkers.base import Chunker, TokenCounter
from ragkit.chunkers.recursive import RecursiveChunker
from ragkit.chunkers.sentence import SentenceChunker
from ragkit.chunkers.spans import MAX_CHARS_PER_TOKEN, SECTION_CHARS, SpanChunker
from ragkit.config import ConfigError, load_config
from ragkit.types import Document

NAMES: dict[type[SpanChunker], str] = {RecursiveChunker: "recursive", SentenceChunker: "sentence"}


@pytest.fixture(params=list(NAMES), ids=list(NAMES.values()))
def chunker_class(request: pytest.FixtureRequest) -> type[SpanChunker]:
    return request.param


def test_pipeline_config_builds_the_chunker(
    minilm_counter: TokenCounter, chunker_class: type[SpanChunker]
) -> None:
    name = NAMES[chunker_class]
    config = load_config({"chunker": {"type": name, "size": 120, "overlap": 10, "unit": "characters"}})
    chunker = registry.get("chunker", name)(config.stage_configs()["chunker"], counter=minilm_counter)
    assert isinstance(chunker, Chunker) and type(chunker) is chunker_class
    assert type(chunker).Config().model_dump() == {"size": 200, "overlap": 30, "unit": "tokens"}


@pytest.mark.parametrize("seed", [4, 21])
def test_no_overlap_means_no_shared_text(
    minilm_counter: TokenCounter, chunker_class: type[SpanChunker], seed: int
) -> None:
    document = Document(english_text(40, seed=seed), {"source": "a.md"})
    for size in (80, 120):
        chunks = list(chunker_class(chunker_class.Config(size=size, overlap=0), counter=minilm_counter).chunk(document))
        check_chunks(document, chunks, minilm_counter, max_tokens=size)
        assert not any(shared(chunks, document))


def test_overlap_must_be_smaller_than_size(chunker_class: type[SpanChunker]) -> None:
    with pytest.raises(ValidationError, match=r"overlap \(50\) must be smaller than size \(50\)"):
        chunker_class.Config(size=50, overlap=50)
    with pytest.raises(ConfigError, match=r"chunker: .*overlap \(300\) must be smaller than size \(200\)"):
        load_config({"chunker": {"type": NAMES[chunker_class], "overlap": 300}})


@pytest.mark.parametrize(
    "params", [{"size": 0}, {"overlap": -1}, {"unit": "words"}, {"chunk_size": 100}], ids=str
)
def test_bad_config_is_rejected(chunker_class: type[SpanChunker], params: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        chunker_class.Config(**params)


class UnloadedEmbedder:
    """Stands for an embedder whose model is not loaded yet: asking its limit is the expensive part."""

    @property
    def max_tokens(self) -> int:
        raise AssertionError("building a chunker must not load the embedder")

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        raise AssertionError("building a chunker must not load the embedder")


def test_building_a_chunker_does_not_load_the_embedder(chunker_class: type[SpanChunker]) -> None:
    chunker_class(chunker_class.Config(), counter=UnloadedEmbedder())


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t  \n"])
def test_empty_document_gives_no_chunks(
    minilm_counter: TokenCounter, chunker_class: type[SpanChunker], text: str
) -> None:
    chunker = chunker_class(chunker_class.Config(), counter=minilm_counter)
    assert list(chunker.chunk(Document(text, {"source": "e"}))) == []


def test_deterministic(minilm_counter: TokenCounter, chunker_class: type[SpanChunker]) -> None:
    document = Document(english_text(30, seed=30) + "\n\n" + chinese_text(10, seed=30), {"source": "mix.md"})
    config = chunker_class.Config(size=70, overlap=15)
    first = list(chunker_class(config, counter=minilm_counter).chunk(document))
    second = list(chunker_class(config, counter=minilm_counter).chunk(document))
    assert [(c.text, c.metadata) for c in first] == [(c.text, c.metadata) for c in second]
    assert [c.id for c in first] == [c.id for c in second]


def test_character_unit_never_exceeds_the_embedder_limit(
    minilm_counter: TokenCounter, chunker_class: type[SpanChunker]
) -> None:
    document = Document(english_text(50, seed=31) + "\n\n" + "数据" * 3000, {"source": "mix.txt"})
    chunker = chunker_class(chunker_class.Config(size=50_000, overlap=500, unit="characters"), counter=minilm_counter)
    chunks = list(chunker.chunk(document))
    check_chunks(document, chunks, minilm_counter, max_chars=50_000)


class CallCounter:
    """Passes counts through and remembers how often it was asked."""

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter
        self.calls = 0

    @property
    def max_tokens(self) -> int:
        return self.counter.max_tokens

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        self.calls += 1
        return self.counter.count_tokens(texts)


def test_one_megabyte_document(minilm_counter: TokenCounter, chunker_class: type[SpanChunker]) -> None:
    """Counts are taken in a few batches per section, not per piece; not a timing test, just that it finishes sensibly."""
    text = english_text(4000, seed=32)
    text = (text + "\n\n") * (1_000_000 // len(text) + 1)
    document = Document(text, {"source": "big.txt"})
    counter = CallCounter(minilm_counter)
    began = time.perf_counter()
    chunks = list(chunker_class(chunker_class.Config(), counter=counter).chunk(document))
    elapsed = time.perf_counter() - began
    assert counter.calls <= 3 * (len(text) // SECTION_CHARS + 1), "the counter must be asked in batches"
    assert len(chunks) > 1000
    assert chunks[-1].metadata["end"] == len(text.rstrip())
    assert all(text[c.metadata["start"] : c.metadata["end"]] == c.text for c in chunks)
    print(f"{chunker_class.__name__}: {len(text):,} characters in {elapsed:.2f} s")


class LengthCounter:
    """Counts every character, spaces included, so summed word counts fall short of a chunk's real count."""

    max_tokens = 40

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(text) for text in texts]


def test_final_check_resplits_chunks_the_sums_underestimated(chunker_class: type[SpanChunker]) -> None:
    counter = LengthCounter()
    document = Document(english_text(20, seed=33), {"source": "a.md"})
    chunks = list(chunker_class(chunker_class.Config(size=500, overlap=5), counter=counter).chunk(document))
    check_chunks(document, chunks, counter)


@pytest.mark.parametrize(
    "text",
    [
        "x7Qz" * 90_000,  # one 360,000-character line without spaces: the tokenizer calls each 100+ run one [UNK]
        "检索增强生成先从文档库中找出与问题相关的片段" * 15_000,  # Chinese without spaces or punctuation
    ],
    ids=["no-space-line", "chinese-run"],
)
def test_text_without_spaces_is_cut_hard_within_the_size_limit(
    minilm_counter: TokenCounter, chunker_class: type[SpanChunker], text: str
) -> None:
    """Several sections long: chunks never exceed the size, in tokens or in characters, whatever the text."""
    assert len(text) > 3 * SECTION_CHARS
    config = chunker_class.Config(size=100, overlap=10)
    chunks = list(chunker_class(config, counter=minilm_counter).chunk(Document(text, {"source": "line.txt"})))
    check_chunks(Document(text, {"source": "line.txt"}), chunks, minilm_counter, max_tokens=100,
                 max_chars=100 * MAX_CHARS_PER_TOKEN)
    assert chunks[-1].metadata["end"] == len(text)


def test_a_long_document_comes_out_lazily_and_overlaps_across_sections(
    minilm_counter: TokenCounter, chunker_class: type[SpanChunker]
) -> None:
    text = english_text(4000, seed=34)
    assert len(text) > 4 * SECTION_CHARS
    document = Document(text, {"source": "long.md"})
    chunker = chunker_class(chunker_class.Config(size=80, overlap=20), counter=minilm_counter)
    stream = iter(chunker.chunk(document))
    first = next(stream)  # the first section only is laid out
    chunks = [first, *stream]
    check_chunks(document, chunks, minilm_counter, max_tokens=80)
    if chunker_class is RecursiveChunker:  # its every chunk repeats the last words before it, across cuts too
        assert all(shared(chunks, document))
