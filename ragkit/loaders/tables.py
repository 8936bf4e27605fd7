"""Tables as text that a chunk can stand on: each row with its column headers ("Name: Ann; Age: 3").

Chunking a table leaves its header row in the first chunk only, and a bare
value ("3") tells neither the embedder nor the reader what it is. So every row
carries the headers of its columns, whichever loader met the table: a
spreadsheet's sheet, a CSV file, a table in a Word document or on a slide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time


def table_lines(rows: Iterable[Sequence[object]]) -> list[str]:
    """One line per row after the header row (the first with any text): ``Header: value; Header: value``.

    Empty cells are left out and a value without a header stands alone; a field
    repeated next to itself (python-docx repeats a merged cell for every column
    it spans) is kept once. A table of a single row is that row's values.
    """
    header: list[str] | None = None
    lines: list[str] = []
    for row in rows:
        cells = [_cell_text(value) for value in row]
        if not any(cells):
            continue
        if header is None:
            header = cells
        else:
            lines.append(_labelled(header, cells))
    if header is not None and not lines:
        lines.append("; ".join(cell for cell in header if cell))
    return lines


def _labelled(header: list[str], cells: list[str]) -> str:
    fields: list[str] = []
    for column, value in enumerate(cells):
        if not value:
            continue
        label = header[column] if column < len(header) else ""
        field = f"{label}: {value}" if label else value
        if not fields or fields[-1] != field:
            fields.append(field)
    return "; ".join(fields)


def _cell_text(value: object) -> str:
    """A cell's value on one line; a spreadsheet date (a datetime at midnight) without its time."""
    if value is None:
        return ""
    if isinstance(value, datetime) and value.time() == time.min:
        value = value.date()
    return " ".join(str(value).split())
