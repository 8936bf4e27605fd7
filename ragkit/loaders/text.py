"""Plain-text files, and the document and title rules every loader shares."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from ragkit.config import StageConfig
from ragkit.loaders.encoding import decode_text, read_bytes
from ragkit.types import Document, content_hash

# A longer "title" is a sentence or a paragraph, not a title.
MAX_TITLE_CHARS = 120


def clean_title(raw: object) -> str | None:
    """A one-line title, or None for a missing, blank or overlong one.

    Metadata titles carry stray NULs and line breaks; collapsing them here keeps
    every loader's titles comparable.
    """
    if raw is None:
        return None
    title = " ".join(str(raw).replace("\x00", " ").split())
    return title if 0 < len(title) <= MAX_TITLE_CHARS else None


def make_document(
    text: str, *, source: str, file_type: str, doc_hash: str, title: str | None, **extra: int
) -> Document:
    """A document whose metadata has no None values: Chroma rejects them."""
    metadata: dict[str, str | int] = {"source": source, "file_type": file_type, "doc_hash": doc_hash}
    if title is not None:
        metadata["title"] = title
    metadata.update(extra)
    return Document(text=text, metadata=metadata)


class TextLoader:
    """Reads ``.txt`` files whole, in whatever encoding they were saved."""

    extensions: ClassVar[tuple[str, ...]] = (".txt",)

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, path: Path, source: str) -> list[Document]:
        text = decode_text(read_bytes(path), source)
        first_line = next(line for line in text.splitlines() if line.strip())
        return [
            make_document(
                text,
                source=source,
                file_type="txt",
                doc_hash=content_hash(text),
                title=clean_title(first_line),
            )
        ]
