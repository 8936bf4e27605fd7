"""PDF files, one document per page so that answers can cite the page.

pypdf raises a zoo of exception types on damaged files (its own, but also
KeyError, ValueError, struct and zlib errors); every one of them becomes a
``LoadError`` with a short reason, so a bad PDF is a line in the ingest report.
"""

from __future__ import annotations

import logging
import re
from io import BytesIO
from typing import ClassVar

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, EmptyFileError

from ragkit.stage import StageConfig
from ragkit.loaders.base import LoadError, error_reason
from ragkit.loaders.documents import clean_title, make_document
from ragkit.types import Document, content_hash

logger = logging.getLogger(__name__)

_SPACES = re.compile(r"[ \t\xa0]+")


class PdfLoader:
    """Reads the text layer of ``.pdf`` files; scanned pages without one are skipped (no OCR)."""

    extensions: ClassVar[tuple[str, ...]] = (".pdf",)

    class Config(StageConfig):
        password: str = ""
        """Tried after the empty password, for encrypted PDFs that need one."""

    def __init__(self, config: Config | None = None):
        self.config = config or self.Config()
        # pypdf logs a warning for every recoverable defect; the ingest report says what matters.
        logging.getLogger("pypdf").setLevel(logging.ERROR)

    def load(self, data: bytes, source: str) -> list[Document]:
        try:
            reader = PdfReader(BytesIO(data))
            if reader.is_encrypted:
                self._decrypt(reader)
            pages = reader.pages
            total = len(pages)
        except LoadError:
            raise
        except EmptyFileError:
            raise LoadError("empty file") from None
        except DependencyError:
            raise LoadError("AES-encrypted PDF: needs the 'cryptography' package") from None
        except Exception as exc:
            raise LoadError(f"unreadable PDF: {error_reason(exc)}") from None

        title = _title(reader)
        doc_hash = content_hash(data)
        documents: list[Document] = []
        failure: Exception | None = None
        for number, page in enumerate(pages, start=1):
            try:
                text = _tidy(page.extract_text())
            except Exception as exc:  # one damaged page should not cost the rest of the file
                logger.warning("%s: page %d: cannot extract text: %s", source, number, error_reason(exc))
                failure = failure or exc
                continue
            if text:
                documents.append(
                    make_document(
                        text, source=source, file_type="pdf", doc_hash=doc_hash, title=title, page=number, pages=total
                    )
                )
        if documents:
            return documents
        if failure is not None:
            raise LoadError(f"unreadable PDF: {error_reason(failure)}")
        raise LoadError("no extractable text (image-only PDF?); OCR is not supported")

    def _decrypt(self, reader: PdfReader) -> None:
        """Open with the empty password (many PDFs only restrict printing), else the configured one."""
        for password in dict.fromkeys(["", self.config.password]):
            if reader.decrypt(password) != PasswordType.NOT_DECRYPTED:
                return
        if self.config.password:
            raise LoadError("encrypted PDF: the configured password does not open it")
        raise LoadError("encrypted PDF: password required")


def _title(reader: PdfReader) -> str | None:
    """The document-information title; a damaged info dictionary only costs the title."""
    try:
        return clean_title(reader.metadata.title if reader.metadata else None)
    except Exception as exc:
        logger.debug("unreadable PDF metadata: %s", error_reason(exc))
        return None


def _tidy(text: str) -> str:
    """Collapse the runs of spaces pypdf emits for justified text; keep line breaks."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(lines).strip()

