"""Which files a folder ingest reads: a sorted, filtered, loop-safe walk.

Sorted so that two ingests of the same folder see files in the same order;
hidden files and folders (``.git``, ``.venv``) are never documents; symlinks are
skipped unless asked for, and when followed each real folder is walked once, so
a link back to a parent cannot loop. FIFOs, sockets and devices are never
opened (a FIFO would block the ingest forever). Every link or file left alone is
reported with the reason, so that a missing file is never a mystery.
"""

from __future__ import annotations

import errno
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ragkit.files import not_regular, special_kind
from ragkit.types import Skipped

logger = logging.getLogger(__name__)

NOT_FOLLOWED = "not followed (loading.follow_symlinks is false)"


def walk(
    root: Path,
    include: list[str],
    exclude: list[str],
    follow_symlinks: bool = False,
    skipped: list[Skipped] | None = None,
) -> Iterator[tuple[Path, str]]:
    """Yield ``(absolute path, source)`` for each file under ``root`` that the globs select.

    ``source`` is the path relative to ``root`` with forward slashes (see
    ``printable`` for names that are not UTF-8); globs are
    matched against it whole (``*.md`` is top-level only, ``**/*.md`` any depth).
    A folder matching an ``exclude`` glob is not entered. A ``root`` that is a
    file is yielded as is, with its name as source: naming it is selecting it.
    Symbolic links the walk does not follow (all of them unless
    ``follow_symlinks``; broken ones and links to a folder already walked when
    it does) and files that are not regular ones (FIFOs, sockets, devices, also
    a ``root`` that is one) are appended to ``skipped`` with the reason, if the
    globs select them.
    """
    root = Path(root).absolute()
    skipped = skipped if skipped is not None else []
    if not root.exists():
        raise FileNotFoundError(f"no such file or folder: {root}")
    if not root.is_dir():
        kind = special_kind(root.stat().st_mode)
        if kind is not None:
            skipped.append(Skipped(printable(root.name), not_regular(kind)))
            return iter(())
        return iter([(root, printable(root.name))])
    return _walk_folder(
        root,
        [compile_glob(p) for p in include],
        [compile_glob(p) for p in exclude],
        follow_symlinks,
        skipped,
    )


def _walk_folder(
    root: Path,
    include: list[re.Pattern[str]],
    exclude: list[re.Pattern[str]],
    follow_symlinks: bool,
    skipped: list[Skipped],
) -> Iterator[tuple[Path, str]]:
    # A stack of sorted listings instead of recursion: the depth of a tree is not ours to bound.
    visited = {_identity(root.stat())}
    stack = [_listing(root, "")]
    while stack:
        entry, source = next(stack[-1], (None, ""))
        if entry is None:
            stack.pop()
            continue
        if entry.name.startswith("."):
            continue
        link = entry.is_symlink()
        kind = _kind(entry)
        if _matches(source, exclude) or not (kind == "folder" or _matches(source, include)):
            continue
        if link and not follow_symlinks:
            skipped.append(Skipped(source, _link_not_followed(Path(entry.path), root)))
        elif kind == "folder":
            identity = _identity(entry.stat())
            if identity not in visited:
                visited.add(identity)
                stack.append(_listing(Path(entry.path), f"{source}/"))
            elif link:
                target = printable(str(Path(entry.path).resolve()))
                skipped.append(Skipped(source, f"symbolic link to {target}, a folder already walked"))
        elif kind == "file":
            yield Path(entry.path), source
        elif (special := _special(entry)) is not None:
            skipped.append(Skipped(source, f"symbolic link to {special}" if link else special))
        elif link:  # neither file nor folder: the link leads nowhere
            skipped.append(Skipped(source, _link_not_followed(Path(entry.path), root)))


def _kind(entry: os.DirEntry[str]) -> str | None:
    """``folder``, ``file`` (a regular one) or None (a FIFO, a device, a link leading nowhere).

    For a link, what its target is. A link loop makes ``is_dir`` raise ELOOP rather than answer.
    """
    try:
        return "folder" if entry.is_dir() else "file" if entry.is_file() else None
    except OSError:
        return None


def _special(entry: os.DirEntry[str]) -> str | None:
    """Why a FIFO, socket or device (or a link to one) is skipped; None for anything else."""
    try:
        kind = special_kind(entry.stat().st_mode)
    except OSError:  # a broken link or a loop
        return None
    return not_regular(kind) if kind is not None else None


def _link_not_followed(link: Path, root: Path) -> str:
    """Why the walk leaves a symbolic link alone, naming where it points."""
    target = printable(os.readlink(link))
    try:
        resolved = link.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # Python 3.11 reports a link loop as RuntimeError, later ones as ELOOP
        if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
            return f"symbolic link loop (to {target}, which leads back to it)"
        return f"broken symbolic link (its target {target} does not exist)"
    real_root = root.resolve()
    if resolved.is_dir() and link.parent.resolve().is_relative_to(resolved):
        return f"symbolic link to {printable(str(resolved))}, a folder that contains it (a loop); {NOT_FOLLOWED}"
    if not resolved.is_relative_to(real_root):
        return f"symbolic link to {printable(str(resolved))}, outside the ingested folder; {NOT_FOLLOWED}"
    return f"symbolic link to {printable(resolved.relative_to(real_root).as_posix())}; {NOT_FOLLOWED}"


def _listing(folder: Path, prefix: str) -> Iterator[tuple[os.DirEntry[str], str]]:
    """The folder's entries by name, each with its source path; an unreadable folder is skipped."""
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        logger.warning("skipping folder %s: %s", folder, exc.strerror or exc)
        return iter(())
    return ((entry, prefix + printable(entry.name)) for entry in entries)


def printable(name: str) -> str:
    """A file name as text that can be stored and printed: bytes that are not UTF-8 become ``\\xNN``.

    Python hands such bytes over as lone surrogates, which SQLite, Chroma and
    ``print`` all reject; the escaped form stays unique and readable.
    """
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _identity(stat: os.stat_result) -> tuple[int, int]:
    return stat.st_dev, stat.st_ino


def _matches(source: str, patterns: Iterable[re.Pattern[str]]) -> bool:
    return any(pattern.fullmatch(source) for pattern in patterns)


def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regex for a glob over ``/``-separated paths, matched against the whole path.

    ``**`` as a whole segment matches any number of folders (none included), so
    ``a/**`` matches ``a`` and all beneath it; ``*`` and ``?`` never cross a ``/``;
    ``[abc]`` and ``[!abc]`` are character classes. The semantics of Python 3.13's
    ``PurePath.full_match``, which 3.11 lacks.
    """
    segments: list[str] = []
    for segment in pattern.strip("/").split("/"):
        if segment not in ("", ".") and not (segment == "**" and segments[-1:] == ["**"]):
            segments.append(segment)
    regex = ""
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment != "**":
            regex += _translate_segment(segment) + ("" if last else "/")
        elif not last:
            regex += "(?:.*/)?"
        else:
            regex = regex[:-1] + "(?:/.*)?" if regex else ".*"
    return re.compile(regex, re.DOTALL)


def _translate_segment(segment: str) -> str:
    """One path segment of a glob as a regex that cannot match a ``/``."""
    parts: list[str] = []
    index = 0
    while index < len(segment):
        char = segment[index]
        index += 1
        if char == "*":
            if not parts or parts[-1] != "[^/]*":  # "**" inside a segment is just "*"
                parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        elif char == "[":
            start = index + (segment[index : index + 1] == "!")
            start += segment[start : start + 1] == "]"  # a leading "]" is a member, not the end
            end = segment.find("]", start)
            if end < 0:
                parts.append(re.escape(char))
                continue
            body = segment[index:end]
            index = end + 1
            negate = body.startswith("!")
            body = body[1:] if negate else body
            escaped = body.replace("\\", "\\\\").replace("^", "\\^").replace("[", "\\[").replace("]", "\\]")
            parts.append(f"[^/{escaped}]" if negate else f"[{escaped}]")
        else:
            parts.append(re.escape(char))
    return "".join(parts)
