"""Word ``.docx`` files: the body's paragraphs and tables in reading order (python-docx, the ``office`` extra).

Headings are written as Markdown headings (``## Pricing``), so that a chunk
shows where in the document it sits, as it would for a Markdown file; tables
become one line per row with the column headers (``ragkit.loaders.tables``).
Page headers and footers repeat on every page and are left out, like an HTML
page's boilerplate.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, ClassVar

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError
from ragkit.loaders.documents import clean_title, make_document
from ragkit.loaders.packages import read_package
from ragkit.loaders.tables import table_lines
from ragkit.types import Document, content_hash

if TYPE_CHECKING:
    from docx.document import Document as WordDocument
    from docx.text.paragraph import Paragraph

# Word's built-in heading styles; "Title" is the document's own title, above "Heading 1".
_HEADING_STYLE = re.compile(r"Heading ([1-9])")
_MARKDOWN_LEVELS = 6


class DocxLoader:
    """Reads ``.docx`` files into one document; the title is the file's own, else its first top-level heading."""

    extensions: ClassVar[tuple[str, ...]] = (".docx",)

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        with read_package(data, ".docx", "docx", "python-docx") as (docx, package):
            word = docx.Document(package)
            blocks, headings = _blocks(word)
            own_title = word.core_properties.title
        if not blocks:
            raise LoadError("no text in the document")
        # min() keeps the first of the top-level headings.
        first_heading = min(headings, key=lambda heading: heading[0])[1] if headings else None
        return [
            make_document(
                "\n\n".join(blocks),
                source=source,
                file_type="docx",
                doc_hash=content_hash(data),
                title=clean_title(own_title) or clean_title(first_heading),
            )
        ]


def _blocks(word: WordDocument) -> tuple[list[str], list[tuple[int, str]]]:
    """The body's text blocks in order, and its headings as ``(level, text)``."""
    from docx.table import Table

    blocks: list[str] = []
    headings: list[tuple[int, str]] = []
    for item in word.iter_inner_content():
        if isinstance(item, Table):
            lines = table_lines([cell.text for cell in row.cells] for row in item.rows)
            if lines:
                blocks.append("\n".join(lines))
            continue
        text = item.text.strip()
        if not text:
            continue
        level = _heading_level(item)
        if level is None:
            blocks.append(text)
        else:
            headings.append((level, text))
            blocks.append(f"{'#' * min(level, _MARKDOWN_LEVELS)} {' '.join(text.split())}")
    return blocks, headings


def _heading_level(paragraph: Paragraph) -> int | None:
    """1 for the Title style, N for Heading N, None for body text."""
    name = paragraph.style.name if paragraph.style is not None else None
    if name == "Title":
        return 1
    match = _HEADING_STYLE.fullmatch(name or "")
    return int(match.group(1)) if match else None
