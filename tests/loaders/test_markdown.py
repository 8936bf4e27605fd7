"""MarkdownLoader: titles from front matter or headings, Markdown kept for the chunkers."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.markdown import MarkdownLoader, first_heading, split_front_matter
from ragkit.types import content_hash


def _load(tmp_path: Path, text: str, name: str = "doc.md") -> tuple[str, dict]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    [document] = MarkdownLoader().load(path.read_bytes(), f"guides/{name}")
    return document.text, document.metadata


def test_title_from_first_h1_and_markdown_kept(tmp_path: Path) -> None:
    text = "Intro line.\n\n# Chunking\n\n## Sizes\n\n- small\n- large\n"
    body, metadata = _load(tmp_path, text)
    assert body == text
    assert metadata == {
        "source": "guides/doc.md",
        "file_type": "md",
        "doc_hash": content_hash(text),
        "title": "Chunking",
    }


def test_front_matter_title_wins_and_front_matter_is_stripped(tmp_path: Path) -> None:
    text = '---\ntitle: "Hybrid search: BM25 + dense"\ntags: [search]\n---\n# Heading\n\nBody.\n'
    body, metadata = _load(tmp_path, text)
    assert metadata["title"] == "Hybrid search: BM25 + dense"
    assert body == "# Heading\n\nBody.\n"
    assert "tags" not in body


def test_invalid_front_matter_is_still_stripped(tmp_path: Path) -> None:
    body, metadata = _load(tmp_path, "---\ntitle: [unclosed\n...\n# Real title\ntext\n")
    assert body == "# Real title\ntext\n"
    assert metadata["title"] == "Real title"


def test_thematic_break_later_is_not_front_matter(tmp_path: Path) -> None:
    text = "# Title\n\n---\n\nafter the rule\n"
    body, _ = _load(tmp_path, text)
    assert body == text


def test_headings_in_code_fences_are_skipped() -> None:
    text = "```bash\n# install it\npip install x\n```\n~~~\n# also code\n~~~\n# Install\n"
    assert first_heading(text) == "Install"


def test_falls_back_to_first_heading_of_any_level() -> None:
    assert first_heading("### Get set up\n\ntext\n#### Deeper\n") == "Get set up"
    assert first_heading("## Two\n# One #\n") == "One"
    assert first_heading("#hashtag is not a heading\nplain") is None


def test_no_heading_no_title(tmp_path: Path) -> None:
    _, metadata = _load(tmp_path, "Just some notes.\n")
    assert "title" not in metadata


def test_front_matter_only_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="empty"):
        _load(tmp_path, "---\ntitle: Nothing else\n---\n\n")


def test_split_front_matter_handles_crlf_after_decoding(tmp_path: Path) -> None:
    path = tmp_path / "win.markdown"
    path.write_bytes(b"---\r\ntitle: Windows\r\n---\r\nBody\r\n")
    [document] = MarkdownLoader().load(path.read_bytes(), "win.markdown")
    assert document.text == "Body\n"
    assert document.metadata["title"] == "Windows"
    assert split_front_matter("no front matter") == (None, "no front matter")


def test_registered_with_both_extensions() -> None:
    assert registry.get("loader", "markdown") is MarkdownLoader
    assert set(MarkdownLoader.extensions) == {".md", ".markdown"}
