"""DocxLoader on files python-docx writes: headings, paragraphs and tables in reading order; bad files refused."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import docx
import pytest
from pydantic import ValidationError

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.docx import DocxLoader
from ragkit.types import Document, content_hash

from formats import BAD_OFFICE_FILES, bad_office_file, make_docx, make_xlsx


def _load(path: Path) -> Document:
    [document] = DocxLoader().load(path.read_bytes(), f"docs/{path.name}")
    return document


def test_headings_paragraphs_and_table_rows_with_headers_in_order(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "handbook.docx")
    document = _load(path)
    assert document.text == (
        "# Harbor Handbook\n\n"
        "# Moorings\n\n"
        "Visiting boats moor at the north pier.\n\n"
        "Berth: A1; Length: 12 m; Fee: 40 EUR a night\n"
        "Berth: K9; Length: 20 m; Fee: 95 EUR a night\n\n"
        "## Tides\n\n"
        "High water is at noon on spring tides."
    )
    assert document.metadata == {
        "source": "docs/handbook.docx",
        "file_type": "docx",
        "doc_hash": content_hash(path.read_bytes()),
        "title": "Harbor Handbook",
    }


def test_the_files_own_title_wins_over_its_headings(tmp_path: Path) -> None:
    word = docx.Document()
    word.core_properties.title = "Port Regulations 2024"
    word.add_heading("Scope", level=1)
    word.add_paragraph("These rules apply to every berth.")
    word.save(tmp_path / "rules.docx")
    assert _load(tmp_path / "rules.docx").metadata["title"] == "Port Regulations 2024"


def test_without_a_title_the_first_top_level_heading_is_the_title(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_heading("Before you start", level=2)
    word.add_heading("Engine maintenance", level=1)
    word.add_paragraph("Change the oil every 200 hours.")
    word.add_heading("Filters", level=1)
    word.save(tmp_path / "engine.docx")
    document = _load(tmp_path / "engine.docx")
    assert document.metadata["title"] == "Engine maintenance"
    assert document.text.startswith("## Before you start\n\n# Engine maintenance\n\n")


def test_a_table_of_one_row_is_its_values_and_merged_cells_count_once(tmp_path: Path) -> None:
    word = docx.Document()
    note = word.add_table(rows=1, cols=2)
    note.cell(0, 0).text, note.cell(0, 1).text = "Warning", "Shallow water at low tide"
    fees = word.add_table(rows=2, cols=3)
    for column, value in enumerate(["Berth", "Fee", "Fee"]):
        fees.cell(0, column).text = value
    fees.cell(1, 0).text = "C3"
    fees.cell(1, 1).merge(fees.cell(1, 2)).text = "60 EUR"
    word.save(tmp_path / "tables.docx")
    assert _load(tmp_path / "tables.docx").text == "Warning; Shallow water at low tide\n\nBerth: C3; Fee: 60 EUR"


def test_a_document_without_text_is_an_error(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_paragraph("   ")
    word.save(tmp_path / "blank.docx")
    with pytest.raises(LoadError, match="no text in the document"):
        _load(tmp_path / "blank.docx")


@pytest.mark.parametrize("kind", sorted(BAD_OFFICE_FILES))
def test_bad_files_give_one_line_reasons(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(bad_office_file(kind, make_docx(tmp_path / "good.docx")))
    with pytest.raises(LoadError, match=re.escape(BAD_OFFICE_FILES[kind])) as error:
        _load(bad)
    assert "\n" not in str(error.value)


def test_a_workbook_named_docx_is_named_for_what_it_is(tmp_path: Path) -> None:
    renamed = make_xlsx(tmp_path / "figures.xlsx").rename(tmp_path / "figures.docx")
    with pytest.raises(LoadError, match=r"a \.xlsx file named \.docx"):
        _load(renamed)


def test_without_python_docx_the_reason_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_docx(tmp_path / "handbook.docx")
    monkeypatch.setitem(sys.modules, "docx", None)  # what `import docx` meets where it is not installed
    with pytest.raises(LoadError, match=r"python-docx is not installed: install ragkit\[office\] to read \.docx"):
        _load(path)


def test_config() -> None:
    assert registry.get("loader", "docx") is DocxLoader
    assert DocxLoader.extensions == (".docx",)
    with pytest.raises(ValidationError):
        DocxLoader.Config(strict=True)
