"""What every loader builds its documents with: clean titles and metadata Chroma accepts."""

from __future__ import annotations

from ragkit.types import Document

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
    text: str, *, source: str, file_type: str, doc_hash: str, title: str | None, **extra: str | int | None
) -> Document:
    """A document whose metadata has no None values (Chroma rejects them): a missing title or chapter is left out."""
    metadata: dict[str, str | int] = {"source": source, "file_type": file_type, "doc_hash": doc_hash}
    for key, value in {"title": title, **extra}.items():
        if value is not None:
            metadata[key] = value
    return Document(text=text, metadata=metadata)
