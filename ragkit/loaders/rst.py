"""reStructuredText files, kept as written (as Markdown files are): the title is the first section title.

A section title is a line of text underlined (and optionally overlined) with a
punctuation character repeated at least as long as the text. The first one is
the document's title whatever character it uses: reStructuredText ranks title
styles by the order in which they appear.
"""

from __future__ import annotations

import re
from typing import ClassVar

from ragkit.stage import StageConfig
from ragkit.loaders.documents import clean_title, make_document
from ragkit.loaders.encoding import decode_text
from ragkit.types import Document, content_hash

# A line of text, then a line of one punctuation character repeated: a title and its underline.
_UNDERLINED = re.compile(r"^([^\n]+)\n(([!-/:-@\[-`{-~])\3+)[ \t]*$", re.MULTILINE)


class RstLoader:
    """Reads ``.rst`` files whole, in whatever encoding they were saved."""

    extensions: ClassVar[tuple[str, ...]] = (".rst", ".rest")

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        text = decode_text(data, source)
        return [
            make_document(
                text, source=source, file_type="rst", doc_hash=content_hash(text), title=clean_title(_first_title(text))
            )
        ]


def _first_title(text: str) -> str | None:
    """The first line of text underlined at least its length; a regex search, so a large file is not split."""
    for match in _UNDERLINED.finditer(text):
        title = match.group(1).strip()
        overline = title[:1] * len(title) == title and not title[:1].isalnum()  # an adornment over another
        if title and len(match.group(2)) >= len(title) and not overline:
            return title
    return None
