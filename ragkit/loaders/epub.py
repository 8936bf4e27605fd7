"""EPUB books, one document per chapter in reading order (ebooklib).

A chapter is an XHTML file of the book's spine, read as an HTML page is
(``ragkit.loaders.markup``): its visible text, without navigation. ``page`` is
the chapter's position among the spine's chapters and ``pages`` their number,
so answers cite a chapter as they cite a PDF page; ``chapter`` is its first
heading. Chapters without text (a cover picture) are skipped, numbering kept.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError
from ragkit.loaders.documents import clean_title, make_document
from ragkit.loaders.markup import decode_markup, first_heading, parse_html, readable_text
from ragkit.loaders.packages import read_package
from ragkit.types import Document, content_hash

if TYPE_CHECKING:
    from ebooklib.epub import EpubBook, EpubItem

logger = logging.getLogger(__name__)

_CHAPTER_MEDIA_TYPES = frozenset({"application/xhtml+xml", "text/html"})


class EpubLoader:
    """Reads ``.epub`` books; the title is the book's."""

    extensions: ClassVar[tuple[str, ...]] = (".epub",)

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        with read_package(data, ".epub", "ebooklib.epub") as (epub, package):
            book = epub.read_epub(package)
            chapters = _chapters(book)
            titles = book.get_metadata("DC", "title")
        title = clean_title(titles[0][0]) if titles else None
        doc_hash = content_hash(data)
        documents: list[Document] = []
        for number, chapter in enumerate(chapters, start=1):
            try:
                soup = parse_html(decode_markup(chapter.content, source))
            except LoadError as exc:  # an empty or binary chapter costs that chapter only
                logger.warning("%s: chapter %d (%s): %s", source, number, chapter.file_name, exc)
                continue
            heading = first_heading(soup)  # before the boilerplate goes: a heading may sit in a <header>
            text = readable_text(soup)
            if text:
                documents.append(
                    make_document(
                        text,
                        source=source,
                        file_type="epub",
                        doc_hash=doc_hash,
                        title=title,
                        page=number,
                        pages=len(chapters),
                        chapter=heading,
                    )
                )
        if not documents:
            raise LoadError("no text in any chapter")
        return documents


def _chapters(book: EpubBook) -> list[EpubItem]:
    """The spine's XHTML files in reading order; the navigation document is left out even when listed."""
    from ebooklib.epub import EpubNav

    items = (book.get_item_with_id(idref) for idref, _linear in book.spine)
    return [
        item
        for item in items
        if item is not None and not isinstance(item, EpubNav) and item.media_type in _CHAPTER_MEDIA_TYPES
    ]
