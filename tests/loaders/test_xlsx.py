"""XlsxLoader on workbooks openpyxl writes: one document per sheet, rows with their headers; bad files refused."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import openpyxl
import pytest
from pydantic import ValidationError

from ragkit import registry
from ragkit.loaders.base import LoadError
from ragkit.loaders.xlsx import XlsxLoader
from ragkit.types import Document, content_hash

from formats import BAD_OFFICE_FILES, bad_office_file, make_pptx, make_xlsx


def _load(path: Path) -> list[Document]:
    return XlsxLoader().load(path.read_bytes(), f"sheets/{path.name}")


def test_one_document_per_sheet_with_its_name_and_rows_with_headers(tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "fleet.xlsx")
    crew, voyages = _load(path)  # the empty "Notes" sheet between them is skipped
    assert crew.text == "Name: Ann Berg; Role: Skipper; Years: 12\nName: Ole Lund; Role: Engineer; Years: 3"
    assert voyages.text == "Departure: 2024-03-01; Port: Bergen"  # a date cell without a midnight time
    assert crew.metadata == {
        "source": "sheets/fleet.xlsx",
        "file_type": "xlsx",
        "doc_hash": content_hash(path.read_bytes()),
        "page": 1,
        "pages": 3,
        "sheet": "Crew",
    }
    assert (voyages.metadata["page"], voyages.metadata["sheet"]) == (3, "Voyages")


def test_headers_start_at_the_first_row_with_text_and_blank_cells_are_left_out(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    workbook.properties.title = "Stores"
    sheet = workbook.active
    sheet["B3"], sheet["C3"], sheet["D3"] = "Item", "Count", None
    sheet["B4"], sheet["C4"], sheet["D4"] = "Rope", 4, "spare"
    sheet["B6"], sheet["C6"] = "Fenders", None
    workbook.save(tmp_path / "stores.xlsx")
    [document] = _load(tmp_path / "stores.xlsx")
    assert document.text == "Item: Rope; Count: 4; spare\nItem: Fenders"
    assert document.metadata["title"] == "Stores"


def test_formulas_give_the_value_excel_saved_or_nothing(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Leg", "Miles"])
    sheet.append(["Total", "=SUM(B3:B9)"])  # openpyxl saves no computed value
    workbook.save(tmp_path / "formulas.xlsx")
    assert [d.text for d in _load(tmp_path / "formulas.xlsx")] == ["Leg: Total"]


def test_a_workbook_without_text_is_an_error(tmp_path: Path) -> None:
    openpyxl.Workbook().save(tmp_path / "blank.xlsx")
    with pytest.raises(LoadError, match="no text in any sheet"):
        _load(tmp_path / "blank.xlsx")


@pytest.mark.parametrize("kind", sorted(BAD_OFFICE_FILES))
def test_bad_files_give_one_line_reasons(tmp_path: Path, kind: str) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(bad_office_file(kind, make_xlsx(tmp_path / "good.xlsx")))
    with pytest.raises(LoadError, match=re.escape(BAD_OFFICE_FILES[kind])) as error:
        _load(bad)
    assert "\n" not in str(error.value)


def test_a_presentation_named_xlsx_is_named_for_what_it_is(tmp_path: Path) -> None:
    renamed = make_pptx(tmp_path / "deck.pptx").rename(tmp_path / "deck.xlsx")
    with pytest.raises(LoadError, match=r"a \.pptx file named \.xlsx"):
        _load(renamed)


def test_without_openpyxl_the_reason_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_xlsx(tmp_path / "fleet.xlsx")
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(LoadError, match=r"openpyxl is not installed: install ragkit\[office\] to read \.xlsx"):
        _load(path)


def test_config() -> None:
    assert registry.get("loader", "xlsx") is XlsxLoader
    assert XlsxLoader.extensions == (".xlsx", ".xlsm")
    with pytest.raises(ValidationError):
        XlsxLoader.Config(sheets=["Crew"])
