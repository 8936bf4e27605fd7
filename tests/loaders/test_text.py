"""TextLoader, and the title and metadata rules every loader shares."""

from __future__ import annotations


import pytest
from pydantic import ValidationError

from ragkit import registry
from ragkit.loaders.base import Loader, LoadError
from ragkit.loaders.documents import MAX_TITLE_CHARS, clean_title
from ragkit.loaders.text import TextLoader
from ragkit.types import content_hash


def test_loads_one_document_with_metadata() -> None:
    text = "\n\n  KV cache notes  \n\nThe cache keeps keys and values.\n"
    [document] = TextLoader().load(text.encode(), "notes/kv.txt")
    assert document.text == text
    assert document.metadata == {
        "source": "notes/kv.txt",
        "file_type": "txt",
        "doc_hash": content_hash(text),
        "title": "KV cache notes",
    }


def test_long_first_line_gives_no_title_key() -> None:
    text = "word " * 40 + "\nsecond line"
    [document] = TextLoader().load(text.encode(), "a.txt")
    assert "title" not in document.metadata
    assert all(isinstance(value, (str, int, float, bool)) for value in document.metadata.values())


def test_gbk_file_decodes() -> None:
    text = "量化\n\n量化可以把模型的权重从 16 位浮点数压缩到 4 位整数，从而减少显存占用，但可能带来少量的精度损失。"
    [document] = TextLoader().load(text.encode("gbk"), "zh.txt")
    assert document.text == text
    assert document.metadata["title"] == "量化"


def test_crlf_is_normalised_and_hashed_as_decoded() -> None:
    [document] = TextLoader().load(b"Title\r\n\r\nBody\r\n", "w.txt")
    assert document.text == "Title\n\nBody\n"
    assert document.metadata["doc_hash"] == content_hash("Title\n\nBody\n")


@pytest.mark.parametrize(
    ("data", "reason"), [(b"", "empty"), (b"  \n\n", "empty"), (b"\x7fELF\x02\x01\x00\x00", "binary")]
)
def test_unloadable_files(data: bytes, reason: str) -> None:
    with pytest.raises(LoadError, match=reason):
        TextLoader().load(data, "bad.txt")


def test_is_the_registered_text_loader_and_rejects_unknown_options() -> None:
    assert registry.get("loader", "text") is TextLoader
    assert isinstance(TextLoader(TextLoader.Config()), Loader)
    assert TextLoader.extensions == (".txt",)
    with pytest.raises(ValidationError):
        TextLoader.Config.model_validate({"encoding": "utf-8"})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Spaced \t out\n title ", "Spaced out title"),
        ("imagemagick-CCITTFaxDecode\x00", "imagemagick-CCITTFaxDecode"),
        ("", None),
        ("   ", None),
        (None, None),
        ("x" * MAX_TITLE_CHARS, "x" * MAX_TITLE_CHARS),
        ("x" * (MAX_TITLE_CHARS + 1), None),
    ],
)
def test_clean_title(raw: str | None, expected: str | None) -> None:
    assert clean_title(raw) == expected
