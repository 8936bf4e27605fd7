"""JSON and JSON Lines files: every value with the path of keys that leads to it.

A value alone ("Ann", 3) says nothing once chunked; ``author.name: Ann`` does.
Strings, numbers and booleans are kept (a record's number is as much a fact
as its name), nulls and empty strings dropped. Each top-level object or array
(an array's item is usually a record) is a paragraph, and so are the top-level
scalars between them, so the chunkers split between records before they split
inside one.

A ``.json`` file is one document; a ``.jsonl`` (``.ndjson``) file is one per
line, ``page`` being the line's number and ``pages`` the number of lines, so
answers cite the record. A line that is not JSON is skipped with a warning,
as a damaged PDF page is; a file without a single readable line fails.
"""

from __future__ import annotations

import json
import logging
from pathlib import PurePosixPath
from typing import ClassVar

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError, error_reason
from ragkit.loaders.documents import clean_title, make_document
from ragkit.loaders.encoding import decode_text
from ragkit.types import Document, content_hash

logger = logging.getLogger(__name__)

_LINES_SUFFIXES = (".jsonl", ".ndjson")


class JsonLoader:
    """Reads ``.json`` files, and ``.jsonl``/``.ndjson`` files line by line; a top-level ``title`` string is the title."""

    extensions: ClassVar[tuple[str, ...]] = (".json", *_LINES_SUFFIXES)

    class Config(StageConfig):
        pass

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()

    def load(self, data: bytes, source: str) -> list[Document]:
        text = decode_text(data, source)
        doc_hash = content_hash(text)
        if PurePosixPath(source).suffix.lower() not in _LINES_SUFFIXES:
            value = _parse(text)
            document = _document(value, source=source, file_type="json", doc_hash=doc_hash)
            if document is None:
                raise LoadError("no text values in the JSON")
            return [document]

        lines = text.rstrip("\n").split("\n")  # not splitlines(): a JSON string may hold a raw U+2028
        documents: list[Document] = []
        failure: str | None = None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                value = _parse(line)
            except LoadError as exc:
                logger.warning("%s: line %d: %s", source, number, exc)
                failure = failure or f"line {number}: {exc}"
                continue
            document = _document(
                value, source=source, file_type="jsonl", doc_hash=doc_hash, page=number, pages=len(lines)
            )
            if document is not None:
                documents.append(document)
        if documents:
            return documents
        raise LoadError(failure or "no text values in the JSON Lines")


def _parse(text: str) -> object:
    try:
        return json.loads(text)
    except RecursionError:
        raise LoadError("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # a JSONDecodeError, or an integer too long to convert
        raise LoadError(f"invalid JSON: {error_reason(exc)}") from None


def _document(value: object, *, source: str, file_type: str, doc_hash: str, **position: int) -> Document | None:
    """The value's fields as a document, in paragraphs as the module says; None when it holds no text."""
    if isinstance(value, dict):
        entries = [(str(key), child) for key, child in value.items()]
    elif isinstance(value, list):
        entries = [(f"[{index}]", child) for index, child in enumerate(value)]
    else:
        entries = [("", value)]
    paragraphs: list[list[str]] = []
    after_container = True
    for path, entry in entries:
        fields = _fields(path, entry)
        if not fields:
            continue
        container = isinstance(entry, (dict, list))
        if container or after_container:
            paragraphs.append(fields)
        else:  # top-level scalars side by side are one record
            paragraphs[-1].extend(fields)
        after_container = container
    text = "\n\n".join("\n".join(fields) for fields in paragraphs)
    if not text:
        return None
    title = value.get("title") if isinstance(value, dict) else None
    return make_document(
        text,
        source=source,
        file_type=file_type,
        doc_hash=doc_hash,
        title=clean_title(title) if isinstance(title, str) else None,
        **position,
    )


def _fields(path: str, value: object) -> list[str]:
    """``path: value`` for every string, number and boolean under ``value``, in the file's order.

    A stack rather than recursion: how deep the values nest is the file's choice.
    """
    fields: list[str] = []
    stack = [(path, value)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed([(f"{path}.{key}" if path else str(key), child) for key, child in value.items()]))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{index}]", child) for index, child in enumerate(value)]))
        elif value is not None and not (isinstance(value, str) and not value.strip()):
            # Numbers and booleans as JSON writes them (true, not True).
            text = value.strip() if isinstance(value, str) else json.dumps(value)
            fields.append(f"{path}: {text}" if path else text)
    return fields
