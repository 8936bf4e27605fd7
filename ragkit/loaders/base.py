"""The loader contract: turn one file into documents, or say why not."""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from ragkit.types import Document


class LoadError(Exception):
    """A file that cannot be ingested; the message is the one-line reason shown in the report."""


def error_reason(exc: BaseException) -> str:
    """One line naming a parsing library's error, for a ``LoadError``: their messages are often empty or span lines."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@runtime_checkable
class Loader(Protocol):
    """Reads files with one of ``extensions`` (lower case, with the dot).

    ``data`` is the file's content, read once by the ingest (which digests
    the same bytes); ``source`` is the path relative to the ingested root, with
    forward slashes; it goes into every document's metadata. Raise
    ``LoadError`` with a short reason for a file that cannot be read.
    """

    extensions: ClassVar[tuple[str, ...]]

    def load(self, data: bytes, source: str) -> list[Document]: ...
