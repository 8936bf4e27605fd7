"""Delimited text tables (``.csv``, ``.tsv``): one document, each row with its column headers.

The first row with text is the header (``ragkit.loaders.tables``): a chunk
cut from the middle of the file still says what each value is. The delimiter
is detected from the start of the file, since spreadsheets save "CSV" with
semicolons where the decimal separator is a comma.
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePosixPath
from typing import ClassVar

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError, error_reason
from ragkit.loaders.documents import make_document
from ragkit.loaders.encoding import decode_text
from ragkit.loaders.tables import table_lines
from ragkit.types import Document, content_hash

_DELIMITERS = ",;\t|"
# Enough rows for the sniffer to see the delimiter's pattern, little enough to stay cheap on a large file.
_SNIFF_CHARS = 64 * 1024


class CsvLoader:
    """Reads ``.csv`` and ``.tsv`` files in whatever encoding they were saved."""

    extensions: ClassVar[tuple[str, ...]] = (".csv", ".tsv")

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        suffix = PurePosixPath(source).suffix.lower()
        text = decode_text(data, source)
        try:
            lines = table_lines(csv.reader(io.StringIO(text, newline=""), _dialect(text, suffix)))
        except csv.Error as exc:
            raise LoadError(f"unreadable {suffix}: {error_reason(exc)}") from None
        if not lines:
            raise LoadError("no text in the table")
        return [
            make_document(
                "\n".join(lines),
                source=source,
                file_type=suffix[1:],
                doc_hash=content_hash(text),
                title=None,
            )
        ]


def _dialect(text: str, suffix: str) -> type[csv.Dialect]:
    """The dialect sniffed from the first whole lines; the extension's when they show no consistent delimiter."""
    sample = text[:_SNIFF_CHARS]
    try:
        return csv.Sniffer().sniff(sample[: sample.rfind("\n") + 1] or sample, delimiters=_DELIMITERS)
    except csv.Error:
        return csv.excel_tab if suffix == ".tsv" else csv.excel
