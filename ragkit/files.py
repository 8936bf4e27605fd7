"""Reading files that a user names but does not control: only regular ones, and never more than a limit.

A FIFO blocks ``open()`` until someone writes to it, a device such as
``/dev/zero`` never ends, and a socket cannot be read at all; each would hang
ragkit or fill its memory. So the kind of a file is checked from its ``stat``
before anything opens it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def special_kind(mode: int) -> str | None:
    """What a file of ``st_mode`` ``mode`` is, if it is neither a regular file nor a folder; None otherwise."""
    return _KINDS.get(stat.S_IFMT(mode))


def not_regular(kind: str) -> str:
    """The reason given for skipping or refusing a file that is ``kind``."""
    return f"{kind}, not a regular file: never opened"


def read_text_limited(path: Path, limit: int, what: str) -> str:
    """``path`` as UTF-8 text, refused with a ``ValueError`` naming ``what`` and the file when it is not a
    regular file or is larger than ``limit`` bytes.

    Opened without blocking and checked again on the open file, so that a
    FIFO put in the file's place after the first check cannot hang the read.
    """
    name = f"{what} {path}"
    try:
        kind = special_kind(os.stat(path).st_mode)
        if kind is not None:
            raise ValueError(f"{name} is {not_regular(kind)}")
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
        with open(descriptor, "rb") as handle:
            kind = special_kind(os.fstat(descriptor).st_mode)
            if kind is not None:
                raise ValueError(f"{name} is {not_regular(kind)}")
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ValueError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ValueError(f"{name} is larger than the limit of {limit:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
