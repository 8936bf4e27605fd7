"""Plain-text files."""

from __future__ import annotations

import re
from typing import ClassVar

from ragkit.stage import StageConfig
from ragkit.loaders.documents import clean_title, make_document
from ragkit.loaders.encoding import decode_text
from ragkit.types import Document, content_hash


class TextLoader:
    """Reads ``.txt`` files whole, in whatever encoding they were saved."""

    extensions: ClassVar[tuple[str, ...]] = (".txt",)

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        text = decode_text(data, source)
        first_line = re.search(r"\S.*", text)  # not splitlines(): a large file would be copied line by line
        return [
            make_document(
                text,
                source=source,
                file_type="txt",
                doc_hash=content_hash(text),
                title=clean_title(first_line.group() if first_line else None),
            )
        ]
