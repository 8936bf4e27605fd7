"""The loader contract: turn one file into documents, or say why not."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from ragkit.types import Document


class LoadError(Exception):
    """A file that cannot be ingested; the message is the one-line reason shown in the report."""


@runtime_checkable
class Loader(Protocol):
    """Reads files with one of ``extensions`` (lower case, with the dot).

    ``source`` is the path relative to the ingested root, with forward slashes;
    it goes into every document's metadata. Raise ``LoadError`` with a short
    reason for a file that cannot be read.
    """

    extensions: ClassVar[tuple[str, ...]]

    def load(self, path: Path, source: str) -> list[Document]: ...
