"""What the loaders of ZIP-based formats share (Office Open XML, EPUB): checking the container first.

Each format's library reports a file that is not what its name says in its own
words, if at all: python-docx says "package not found", ebooklib "bad zip
file", openpyxl passes zipfile's error on. Checking the container once, here,
gives every format the same one-line reasons, and names the two look-alikes
people meet most: a password-protected Office file, which Office saves inside
an OLE2 compound file rather than a ZIP, and a legacy ``.doc``/``.xls``/``.ppt``
renamed to the new extension, which is an OLE2 file too.
"""

from __future__ import annotations

import importlib
import logging
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from types import ModuleType

from ragkit.loaders.base import LoadError, error_reason

logger = logging.getLogger(__name__)

# Every OLE2 compound file (CFB) starts with this signature.
_OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# The stream an encrypted Office file keeps its package in; directory entries name streams in UTF-16.
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
# A ZIP archive starts with a local file header (or, when it holds nothing, the end record).
_ZIP_SIGNATURES = (b"PK\x03\x04", b"PK\x05\x06")
# Where each format keeps its content (every producer uses these names): how a file of one of
# them renamed to another is told, before its library fails on it with a message about parts.
_CONTENT = {".docx": "word/", ".pptx": "ppt/", ".xlsx": "xl/", ".xlsm": "xl/", ".epub": "META-INF/container.xml"}


def zip_package(data: bytes, suffix: str) -> BytesIO:
    """``data`` as a stream for the format's library, once its ZIP directory has been read.

    ``suffix`` is one of ``_CONTENT``'s. Raises ``LoadError`` saying what the
    file is instead: empty, encrypted, a legacy Office file, not an archive at
    all, a truncated one (whose directory, at the end, is missing), or another
    of these formats.
    """
    if not data:
        raise LoadError("empty file")
    if data.startswith(_OLE2_SIGNATURE):
        if _ENCRYPTED_STREAM in data:
            raise LoadError(f"password-protected {suffix} file: save it without a password to ingest it")
        raise LoadError(f"legacy binary Office file (OLE2), not {suffix}: save it as {suffix} to ingest it")
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        if data.startswith(_ZIP_SIGNATURES):
            raise LoadError("damaged or truncated ZIP archive") from None
        raise LoadError(f"not a {suffix} file: it is not a ZIP archive") from None
    except Exception as exc:  # on some damage zipfile lets struct and value errors through
        raise LoadError(f"damaged ZIP archive: {error_reason(exc)}") from None
    if not _holds(names, _CONTENT[suffix]):
        root = _nested_root(names, _CONTENT[suffix])
        if root is not None:
            logger.warning("%s package zipped inside the folder %r: read from there", suffix, root)
            return _rerooted(data, root)
        actual = next((other for other, content in _CONTENT.items() if _holds(names, content)), None)
        if actual is not None:
            raise LoadError(f"a {actual} file named {suffix}: rename it to ingest it")
        raise LoadError(f"not a {suffix} file: a ZIP archive without {_CONTENT[suffix]}")
    return BytesIO(data)


def _holds(names: list[str], content: str) -> bool:
    return any(name.startswith(content) for name in names)


def _nested_root(names: list[str], content: str) -> str | None:
    """The one folder a package was zipped inside, as ``epub/META-INF/container.xml`` (Debian Edu's manuals), or None."""
    roots = {name[: name.find("/" + content) + 1] for name in names if "/" + content in name}
    return roots.pop() if len(roots) == 1 else None


def _rerooted(data: bytes, root: str) -> BytesIO:
    """The members under ``root``, moved to the top of a new archive where the format's library looks for them."""
    rerooted = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as archive, zipfile.ZipFile(rerooted, "w", zipfile.ZIP_DEFLATED) as out:
        for member in archive.infolist():
            if member.filename.startswith(root) and member.filename != root:
                out.writestr(member.filename[len(root) :], archive.read(member))
    rerooted.seek(0)
    return rerooted


@contextmanager
def read_package(data: bytes, suffix: str, library: str, extra_package: str | None = None) -> Iterator[tuple[ModuleType, BytesIO]]:
    """The format's ``library`` and ``data`` as a checked ZIP package, for the ``with`` body to parse.

    ``extra_package`` names the distribution of an optional library (the ``office``
    extra): missing, the file is skipped naming what to install. Whatever the
    library raises in the body becomes one ``LoadError`` line, ``unreadable <suffix>: ...``.
    """
    try:
        module = importlib.import_module(library)
    except ImportError:
        if extra_package is None:
            raise
        raise LoadError(f"{extra_package} is not installed: install ragkit[office] to read {suffix} files") from None
    package = zip_package(data, suffix)
    try:
        yield module, package
    except LoadError:
        raise
    except Exception as exc:
        raise LoadError(f"unreadable {suffix}: {error_reason(exc)}") from None
