"""Loading files for an ingest: each one read once, digested, and handed to its loader, here or in worker processes."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path

from ragkit.ingest.manifest import Entry, read_file
from ragkit.loaders.base import LoadError, Loader
from ragkit.stage import StageConfig
from ragkit.types import Document

log = logging.getLogger(__name__)

# Files a loading worker may have loaded ahead of the chunker: enough to keep it busy while the
# main process embeds, few enough that memory does not grow with the folder.
IN_FLIGHT_PER_WORKER = 2

# The loader classes with their validated configs: what a worker process builds its own loaders from.
LoaderSpecs = list[tuple[type, StageConfig]]


@dataclass
class Read:
    """One file as its loader left it, picklable so that it can come back from a loading worker.

    ``entry`` is None when the file could not even be read; ``reason`` says why a file has no documents;
    ``touched``: its bytes are those already ingested (only its mtime is new), so it was not loaded.
    """

    source: str
    entry: Entry | None
    documents: list[Document] = field(default_factory=list)
    reason: str | None = None
    touched: bool = False


def by_extension(loaders: Iterable[Loader]) -> dict[str, Loader]:
    return {ext: loader for loader in loaders for ext in loader.extensions}


def read(loaders: dict[str, Loader], file_path: Path, source: str, known: Entry | None = None) -> Read:
    """Stat, read and digest one file, then load its bytes; any failure becomes a one-line reason, never an exception.

    The digest is of the very bytes the loader parses: a file changed while it
    loads then looks changed to the next ingest, never falsely unchanged. With
    ``known`` (the manifest's row of a file of the same size) and the same
    digest, the file was only touched: its row comes back with the new mtime, unloaded.
    """
    loader = loaders.get(file_path.suffix.lower())
    try:
        stat = file_path.stat()
        data, digest = read_file(file_path) if loader is not None else (b"", "")  # unsupported: never read
    except OSError as exc:
        return Read(source, None, reason=f"cannot read file: {exc.strerror or exc}")
    entry = Entry(source, stat.st_size, stat.st_mtime_ns, digest)
    if known is not None and digest == known.digest:
        return Read(source, replace(known, size=stat.st_size, mtime_ns=stat.st_mtime_ns), reason=known.error, touched=True)
    if loader is None:
        return Read(source, entry, reason=f"unsupported file type {file_path.suffix or '(none)'!r}")
    try:
        return Read(source, entry, loader.load(data, source))
    except LoadError as exc:
        return Read(source, entry, reason=str(exc))
    except Exception as exc:  # a loader bug must not abort a whole folder
        return Read(source, entry, reason=f"{type(exc).__name__}: {exc}")


def reads(work: list[tuple[Path, str, Entry | None]], loaders: dict[str, Loader], specs: LoaderSpecs, workers: int) -> Iterator[Read]:
    """Each file of ``work`` loaded, in order: by a pool of ``workers`` processes when that is more than one.

    The pool lets PDF parsing use every core while this process chunks,
    embeds and writes. Should it break (a worker killed, say by the OOM
    killer), the run goes on: the remaining files are loaded here.
    """
    workers = min(workers, len(work))
    done = 0
    if workers > 1:
        try:
            for loaded in _pool_reads(work, specs, workers):
                done += 1
                yield loaded
        except BrokenProcessPool as exc:
            log.warning("a loading worker died (%s); loading the other %d files here", exc, len(work) - done)
    for file_path, source, known in work[done:]:
        yield read(loaders, file_path, source, known)


def _pool_reads(work: Iterable[tuple[Path, str, Entry | None]], specs: LoaderSpecs, workers: int) -> Iterator[Read]:
    """``work`` loaded by ``workers`` processes, in order, at most ``IN_FLIGHT_PER_WORKER`` files each ahead.

    Spawned, not forked: this process may hold torch's and Chroma's threads,
    whose locks a fork would copy in whatever state they are.
    """
    pool = ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker, initargs=(specs,)
    )
    try:
        in_flight: deque[Future[Read]] = deque()
        for file_path, source, known in work:
            in_flight.append(pool.submit(_read_in_worker, file_path, source, known))
            if len(in_flight) >= IN_FLIGHT_PER_WORKER * workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()
    finally:
        pool.shutdown(cancel_futures=True)


# A loading worker's loaders, built once by ``_start_worker``.
_worker_loaders: dict[str, Loader] = {}


def _start_worker(specs: LoaderSpecs) -> None:
    """Build a loading worker's loaders from the classes and configs its parent validated."""
    _worker_loaders.update(by_extension(cls(config) for cls, config in specs))
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    """End this worker when its parent dies: a SIGKILLed ingest cannot stop its pool, whose workers would linger."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(1)


def _read_in_worker(file_path: Path, source: str, known: Entry | None) -> Read:
    return read(_worker_loaders, file_path, source, known)
