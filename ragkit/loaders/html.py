"""HTML pages: the readable text, without navigation, scripts or hidden parts (``ragkit.loaders.markup``)."""

from __future__ import annotations

from typing import ClassVar

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError
from ragkit.loaders.documents import make_document
from ragkit.loaders.markup import decode_markup, page_title, parse_html, readable_text
from ragkit.types import Document, content_hash


class HtmlLoader:
    """Reads ``.html`` pages into one document of their visible main text."""

    extensions: ClassVar[tuple[str, ...]] = (".html", ".htm")

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        markup = decode_markup(data, source)
        soup = parse_html(markup)
        title = page_title(soup)
        text = readable_text(soup)
        if not text:
            raise LoadError("no visible text in the page")
        return [make_document(text, source=source, file_type="html", doc_hash=content_hash(markup), title=title)]
