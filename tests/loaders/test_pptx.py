"""PptxLoader on decks python-pptx writes: one document per slide with its number; bad files refused."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pptx
import pytest
from pptx.util import Inches
from pydantic import ValidationError

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.pptx import PptxLoader
from ragkit.types import Document, content_hash

from formats import BAD_OFFICE_FILES, bad_office_file, make_docx, make_pptx


def _load(path: Path) -> list[Document]:
    return PptxLoader().load(path.read_bytes(), f"decks/{path.name}")


def test_one_document_per_slide_numbered_like_pdf_pages(tmp_path: Path) -> None:
    path = make_pptx(tmp_path / "review.pptx")
    first, third = _load(path)  # the second slide has no text
    assert first.text == "Quarterly Review\n\nFleet and harbor figures"
    assert third.text == (
        "Landings by region\n\n"
        "Region: North Sea; Tonnes: 310\n"
        "Region: Baltic; Tonnes: 120\n\n"
        "Mention that the Baltic quota was cut."
    )
    assert first.metadata == {
        "source": "decks/review.pptx",
        "file_type": "pptx",
        "doc_hash": content_hash(path.read_bytes()),
        "title": "Quarterly Review",
        "page": 1,
        "pages": 3,
    }
    assert (third.metadata["page"], third.metadata["pages"]) == (3, 3)


def test_grouped_shapes_and_line_breaks_are_read(tmp_path: Path) -> None:
    presentation = pptx.Presentation()
    presentation.core_properties.title = "Safety Briefing"
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])
    group = slide.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(1), Inches(4), Inches(1))
    box.text_frame.text = "Life jackets\vunder every seat"
    inner = group.shapes.add_group_shape()
    inner.shapes.add_textbox(Inches(1), Inches(3), Inches(4), Inches(1)).text_frame.text = "Flares in the wheelhouse"
    presentation.save(tmp_path / "safety.pptx")
    [document] = _load(tmp_path / "safety.pptx")
    assert document.text == "Life jackets\nunder every seat\n\nFlares in the wheelhouse"
    assert document.metadata["title"] == "Safety Briefing"


def test_a_deck_without_text_is_an_error(tmp_path: Path) -> None:
    presentation = pptx.Presentation()
    presentation.slides.add_slide(presentation.slide_layouts[6])
    presentation.save(tmp_path / "pictures.pptx")
    with pytest.raises(LoadError, match="no text on any slide"):
        _load(tmp_path / "pictures.pptx")


@pytest.mark.parametrize("kind", sorted(BAD_OFFICE_FILES))
def test_bad_files_give_one_line_reasons(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.pptx"
    bad.write_bytes(bad_office_file(kind, make_pptx(tmp_path / "good.pptx")))
    with pytest.raises(LoadError, match=re.escape(BAD_OFFICE_FILES[kind])) as error:
        _load(bad)
    assert "\n" not in str(error.value)


def test_a_document_named_pptx_is_named_for_what_it_is(tmp_path: Path) -> None:
    renamed = make_docx(tmp_path / "handbook.docx").rename(tmp_path / "handbook.pptx")
    with pytest.raises(LoadError, match=r"a \.docx file named \.pptx"):
        _load(renamed)


def test_without_python_pptx_the_reason_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_pptx(tmp_path / "review.pptx")
    monkeypatch.setitem(sys.modules, "pptx", None)
    with pytest.raises(LoadError, match=r"python-pptx is not installed: install ragkit\[office\] to read \.pptx"):
        _load(path)


def test_config() -> None:
    assert registry.get("loader", "pptx") is PptxLoader
    assert PptxLoader.extensions == (".pptx",)
    with pytest.raises(ValidationError):
        PptxLoader.Config(notes=False)
