"""Markdown files, kept as Markdown: headings and lists help the chunkers split."""

from __future__ import annotations

import re
from typing import ClassVar

import yaml

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError
from ragkit.loaders.encoding import decode_text
from ragkit.loaders.documents import clean_title, make_document
from ragkit.types import Document, content_hash

# YAML front matter (Jekyll, Hugo, MkDocs): "---" on the first line, closed by "---" or "...".
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


class MarkdownLoader:
    """Reads ``.md`` files; the title comes from front matter or the first heading."""

    extensions: ClassVar[tuple[str, ...]] = (".md", ".markdown")

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        text = decode_text(data, source)
        front_title, body = split_front_matter(text)
        if not body.strip():
            raise LoadError("empty file (front matter only)")
        return [
            make_document(
                body,
                source=source,
                file_type="md",
                doc_hash=content_hash(text),
                title=clean_title(front_title) or clean_title(first_heading(body)),
            )
        ]


def split_front_matter(text: str) -> tuple[str | None, str]:
    """The front matter's ``title`` (if any) and the text without the front matter.

    The block is removed even when it is not valid YAML: it is metadata, not prose.
    """
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None, text
    try:
        data = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError:
        data = None
    title = data.get("title") if isinstance(data, dict) else None
    scalar = title is not None and not isinstance(title, (dict, list))
    return (str(title) if scalar else None), text[match.end() :]


def first_heading(text: str) -> str | None:
    """The first level-1 ATX heading outside fenced code, else the first heading of any level.

    Pages of a larger manual often start at ``###``; their top heading still names them.
    """
    fence: str | None = None
    first: str | None = None
    for line in text.splitlines():
        marker = _FENCE.match(line)
        if marker:
            if fence is None:
                fence = marker.group(1)
            elif fence == marker.group(1):
                fence = None
            continue
        heading = _ATX_HEADING.match(line) if fence is None else None
        if heading and len(heading.group(1)) == 1:
            return heading.group(2)
        if heading and first is None:
            first = heading.group(2)
    return first
