"""PowerPoint ``.pptx`` files, one document per slide so that answers can cite the slide (python-pptx, the
``office`` extra).

A slide is its shapes' text in the slide's order (grouped shapes included),
its tables as rows with their headers (``ragkit.loaders.tables``), then its
speaker notes, which often say what the bullet points leave out. Slides
without text (a picture, a chart) are skipped, but numbering is kept, as for
PDF pages: ``page`` is the slide's number, ``pages`` the number of slides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError
from ragkit.loaders.documents import clean_title, make_document
from ragkit.loaders.packages import read_package
from ragkit.loaders.tables import table_lines
from ragkit.types import Document, content_hash

if TYPE_CHECKING:
    from pptx.shapes.base import BaseShape
    from pptx.slide import Slide
    from pptx.text.text import TextFrame


class PptxLoader:
    """Reads ``.pptx`` files; the title is the file's own, else the first slide's title."""

    extensions: ClassVar[tuple[str, ...]] = (".pptx",)

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        with read_package(data, ".pptx", "pptx", "python-pptx") as (pptx, package):
            presentation = pptx.Presentation(package)
            slides = list(presentation.slides)
            texts = [_slide_text(slide) for slide in slides]
            title = clean_title(presentation.core_properties.title) or _slide_title(slides)
        doc_hash = content_hash(data)
        documents = [
            make_document(
                text, source=source, file_type="pptx", doc_hash=doc_hash, title=title, page=number, pages=len(slides)
            )
            for number, text in enumerate(texts, start=1)
            if text
        ]
        if not documents:
            raise LoadError("no text on any slide")
        return documents


def _slide_text(slide: Slide) -> str:
    """The slide's text blocks, then its notes, separated by blank lines."""
    from pptx.shapes.autoshape import Shape
    from pptx.shapes.graphfrm import GraphicFrame
    from pptx.shapes.group import GroupShape

    blocks: list[str] = []
    # A stack rather than recursion: groups nest.
    shapes: list[BaseShape] = list(reversed(slide.shapes))
    while shapes:
        shape = shapes.pop()
        if isinstance(shape, GroupShape):
            shapes.extend(reversed(shape.shapes))
        elif isinstance(shape, GraphicFrame) and shape.has_table:
            blocks.append("\n".join(table_lines([cell.text for cell in row.cells] for row in shape.table.rows)))
        elif isinstance(shape, Shape) and shape.has_text_frame:
            blocks.append(_frame_text(shape.text_frame))
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        blocks.append(_frame_text(slide.notes_slide.notes_text_frame))
    return "\n\n".join(block for block in blocks if block)


def _frame_text(frame: TextFrame) -> str:
    """A text frame's paragraphs, one a line; python-pptx marks a line break inside one with a vertical tab."""
    return frame.text.replace("\v", "\n").strip()


def _slide_title(slides: list[Slide]) -> str | None:
    """The first slide's title placeholder: the presentation's title slide."""
    placeholder = slides[0].shapes.title if slides else None
    return clean_title(placeholder.text_frame.text) if placeholder is not None else None
