"""Chunks on their way to the store, batch by batch, each batch committed on its own: what both engines share.

A batch marks its files pending in the manifest, writes the store and the
keyword index (``Collection``), drops the stale chunks of the files it ends,
then commits their rows. A killed run leaves at worst pending files, which the
next run redoes; deterministic chunk ids make that an upsert. The local engine
embeds each batch as it is written; the Ray engine's chunks come with their
vectors, embedded by its actors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ragkit.chunkers.base import Chunker
from ragkit.ingest.collection import Collection
from ragkit.ingest.manifest import Entry, Manifest
from ragkit.ingest.reading import Read
from ragkit.timing import timed
from ragkit.types import Chunk, Failed, IngestReport


@dataclass
class Part:
    """Some of one file's chunks (and, from the Ray engine, their vectors); ``last`` when they end the file.

    A large file is written over several batches; its manifest row goes in with
    the batch holding its last part. ``entry`` is None when the file could not
    even be read; ``fresh`` when the store can hold no chunks of it but these (none
    at all for a new file; exactly its row's for a file only touched).
    """

    source: str
    entry: Entry | None
    fresh: bool = False
    chunks: list[Chunk] = field(default_factory=list)
    vectors: list[np.ndarray] = field(default_factory=list)
    last: bool = True


def file_chunks(read: Read, root: str, chunker: Chunker, timings: dict[str, float]) -> Iterator[Chunk]:
    """A loaded file's chunks, pulled from the chunker one at a time (its time goes to ``chunk``)."""
    if read.entry is None or read.reason is not None:
        return
    for document in read.documents:
        document.metadata["root"] = root
        chunks = iter(chunker.chunk(document))
        while True:
            with timed(timings, "chunk"):
                chunk = next(chunks, None)
            if chunk is None:
                break
            yield chunk


def record(part: Part, reason: str | None, documents: int, is_new: bool, report: IngestReport) -> int:
    """Record a finished file in the report and its row; returns its chunk count.

    A file without documents or chunks becomes a failure with its reason.
    """
    entry = part.entry
    if entry is None or not entry.chunk_ids:
        reason = reason or "no text to index"
        report.failed.append(Failed(part.source, reason))
        if entry is not None:
            entry.error = reason
        return 0
    report.files_loaded += 1
    report.documents += documents
    entry.documents = documents
    (report.added if is_new else report.updated).append(part.source)
    return len(entry.chunk_ids)


class Batcher:
    """Gathers files' chunks into batches of ``limit`` and writes each one (see the module's docstring).

    ``embed`` embeds a batch's chunks as it is written; None when every chunk comes with its vector.
    """

    def __init__(
        self,
        manifest: Manifest,
        root: str,
        collection: Collection,
        report: IngestReport,
        limit: int,
        embed: Callable[[Sequence[str]], np.ndarray] | None,
    ):
        self.manifest, self.root, self.collection, self.report = manifest, root, collection, report
        self.limit, self.embed = limit, embed
        self.batch: list[Part] = []
        self.batched = 0

    def add(self, part: Part, chunk: Chunk, vector: np.ndarray | None = None) -> Part:
        """Add one chunk of ``part``'s file; returns the part its next chunk goes to (a new one once a full
        batch has gone out without the file's end)."""
        if self.batched >= self.limit:
            self._write([*self.batch, replace(part, last=False)])
            part = replace(part, chunks=[], vectors=[])
        part.chunks.append(chunk)
        if vector is not None:
            part.vectors.append(vector)
        assert part.entry is not None  # a file that could not be read has no chunks
        part.entry.chunk_ids.append(chunk.id)
        self.batched += 1
        return part

    def end(self, part: Part, reason: str | None, documents: int, is_new: bool) -> int:
        """The file's last part: recorded (``record``) and queued, and a full batch written; returns its chunk count."""
        chunks = record(part, reason, documents, is_new, self.report)
        self.batch.append(part)
        if self.batched >= self.limit:
            self._write(self.batch)
        return chunks

    def keep(self, part: Part) -> None:
        """A file only touched (its stored chunks are its row's): the refreshed row goes in with the next commit."""
        self.batch.append(part)

    def close(self) -> None:
        """Write what is left."""
        self._write(self.batch)

    def _write(self, batch: list[Part]) -> None:
        """Mark the batch's files pending, embed (if asked to) and upsert its chunks; for the files it ends, drop
        their stale chunks (none to look for in a fresh file), then commit their rows. A file still going on stays pending."""
        self.batch, self.batched = [], 0
        if not batch:
            return
        root, report = self.root, self.report
        with timed(report.timings, "write"):
            self.manifest.mark_pending(root, [part.source for part in batch])
        chunks = [chunk for part in batch for chunk in part.chunks]
        if self.embed is None:
            vectors = np.stack([vector for part in batch for vector in part.vectors]) if chunks else None
        else:
            with timed(report.timings, "embed"):
                vectors = self.embed([chunk.text for chunk in chunks]) if chunks else None
        with timed(report.timings, "write"):
            if vectors is not None:
                self.collection.upsert(chunks, vectors)
                report.chunks_written += len(chunks)
            ended = [part for part in batch if part.last]
            for part in ended:
                if not part.fresh:
                    keep = set(part.entry.chunk_ids) if part.entry is not None else set()
                    report.chunks_removed += self.collection.delete_file(root, part.source, keep=keep)
            self.manifest.commit(
                root,
                [part.entry for part in ended if part.entry is not None],
                [part.source for part in ended if part.entry is None],
            )
