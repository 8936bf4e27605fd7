"""Excel ``.xlsx`` workbooks, one document per sheet (openpyxl, the ``office`` extra).

Each row is written with its column headers, the sheet's first row with text
(``ragkit.loaders.tables``), so that a chunk cut from the middle of a sheet
still says what each value is. Formulas give the value Excel last computed
and saved; a workbook never opened in Excel (written by a script) may have
none. ``page`` is the sheet's position, ``pages`` the number of sheets and
``sheet`` its name; sheets without text are skipped, as PDF pages are.
"""

from __future__ import annotations

import warnings
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, ClassVar

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError
from ragkit.loaders.documents import clean_title, make_document
from ragkit.loaders.packages import read_package
from ragkit.loaders.tables import table_lines
from ragkit.types import Document, content_hash

if TYPE_CHECKING:
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet


class XlsxLoader:
    """Reads ``.xlsx`` and ``.xlsm`` workbooks (macros are never run, only cells read)."""

    extensions: ClassVar[tuple[str, ...]] = (".xlsx", ".xlsm")

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        suffix = PurePosixPath(source).suffix.lower()
        with read_package(data, suffix, "openpyxl", "openpyxl") as (openpyxl, package):
            with warnings.catch_warnings():
                # openpyxl warns of every feature it does not read (data validation, conditional
                # formatting); none of them changes a cell's value.
                warnings.simplefilter("ignore")
                workbook = openpyxl.load_workbook(package, read_only=True, data_only=True)
                try:
                    title = clean_title(workbook.properties.title)
                    sheets = [(sheet.title, _sheet_text(sheet)) for sheet in workbook.worksheets]
                finally:
                    workbook.close()
        doc_hash = content_hash(data)
        documents = [
            make_document(
                text,
                source=source,
                file_type=suffix[1:],
                doc_hash=doc_hash,
                title=title,
                page=number,
                pages=len(sheets),
                sheet=name,
            )
            for number, (name, text) in enumerate(sheets, start=1)
            if text
        ]
        if not documents:
            raise LoadError("no text in any sheet")
        return documents


def _sheet_text(sheet: ReadOnlyWorksheet) -> str:
    """A sheet's rows as labelled lines.

    The dimensions a file declares are dropped first: some writers get them
    wrong, and openpyxl's read-only mode would then read only that range.
    """
    sheet.reset_dimensions()
    return "\n".join(table_lines(sheet.iter_rows(values_only=True)))
