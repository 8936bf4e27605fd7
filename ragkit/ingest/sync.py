"""The ingest: make a store mirror a folder, committing as it goes, so that a killed run resumes where it stopped.

Order of work for each root: walk, plan against the manifest (``planning``),
remove what went, then load (``reading``), chunk, embed and write in batches;
each batch marks its files pending, writes the store and the index
(``Collection``), then commits their manifest rows (``manifest``).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from ragkit.chunkers.base import Chunker
from ragkit.embedders.base import Embedder
from ragkit.ingest.batching import Batcher, Part, file_chunks
from ragkit.ingest.collection import Collection
from ragkit.ingest.manifest import Manifest, SettingsChangedError, StoreLockedError, exclusive
from ragkit.ingest.planning import Plan, plan, report_unchanged, settle_touched
from ragkit.ingest.progress import Progress
from ragkit.ingest import ray_engine
from ragkit.ingest.ray_engine import StageBuilder
from ragkit.ingest.reading import LoaderSpecs, by_extension, reads
from ragkit.ingest.state import LOCK, MANIFEST, StateFiles
from ragkit.settings import LoadingConfig
from ragkit.loaders.base import Loader
from ragkit.loaders.walker import printable, walk
from ragkit.stores.base import StoreFullError, StoreUnavailableError, VectorStore
from ragkit.timing import timed
from ragkit.types import IngestReport

log = logging.getLogger(__name__)

# A write that fails with less than this free under the store is taken for a full disk (see _disk_full_named).
LOW_SPACE_BYTES = 64 * 1024 * 1024


class Ingestor:
    """Syncs folders into one store and its keyword index, under the store's lock."""

    def __init__(
        self,
        settings: LoadingConfig,
        loaders: list[Loader],
        loader_specs: LoaderSpecs,
        chunker: Chunker,
        embedder: Embedder,
        store: VectorStore,
        collection: Collection,
        fingerprint: Callable[[], str],
        state: StateFiles,
        stages: StageBuilder,
    ):
        """``loader_specs`` and ``stages`` are what worker processes build their own loaders, embedder and chunker from."""
        if settings.engine == "ray":
            ray_engine.check_usable(store)
        self.settings, self.loaders, self.loader_specs = settings, loaders, loader_specs
        self.by_extension = by_extension(self.loaders)
        self.chunker, self.embedder, self.store, self.collection = chunker, embedder, store, collection
        self.fingerprint, self.state, self.stages = fingerprint, state, stages
        self._held: ExitStack | None = None  # the store's lock, while a server holds it (hold_store)
        self._index_checked = False

    def ingest(
        self, path: str | Path, *, prune: bool, rebuild: bool, dry_run: bool, progress: bool | None
    ) -> IngestReport:
        """``RAG.ingest``: the arguments are explained there."""
        started = time.perf_counter()
        target = Path(os.path.abspath(path))  # "docs/../docs" and "docs" are one root
        report = IngestReport(dry_run=dry_run)
        settings = self.settings
        files = list(walk(target, settings.include, settings.exclude, settings.follow_symlinks, report.skipped))
        folder = target.is_dir()
        report.root = root = printable(str(target if folder else target.parent))
        report.files_seen = len(files)
        for link in report.skipped:
            log.info("skipped %s: %s", link.path, link.reason)
        if dry_run:
            with Manifest(self.state.path(MANIFEST), readonly=True) as manifest:
                drop = self._must_drop(manifest, rebuild)
                planned = plan(None if drop else manifest, root, files, folder, prune, report)
            settle_touched(planned, report)
            report.added = [work.source for work in planned.work if work.is_new]
            report.updated = [work.source for work in planned.work if not work.is_new]
        else:
            with self._disk_full_named(), self.store_lock(), Manifest(self.state.path(MANIFEST)) as manifest:
                if self._must_drop(manifest, rebuild):
                    self._drop_all(manifest, report)
                with timed(report.timings, "write"):
                    self.collection.sync_index()
                with timed(report.timings, "plan"):
                    planned = plan(manifest, root, files, folder, prune, report)
                self._apply(manifest, planned, report, progress)
                with timed(report.timings, "write"):
                    self.collection.refresh()
        report.seconds = time.perf_counter() - started
        for failed in report.failed:
            log.warning("failed %s: %s", failed.path, failed.reason)
        return report

    def hold_store(self, server: str) -> None:
        """``RAG.hold_store``: only a single-process store (embedded Chroma) is held."""
        if self._held is None and self.store.single_process:
            held = ExitStack()
            held.enter_context(exclusive(self.state.path(LOCK), server))
            self._held = held

    def release_store(self) -> None:
        if self._held is not None:
            self._held.close()
            self._held = None

    def store_lock(self) -> AbstractContextManager[None]:
        """The store's lock for one ingest or index check: already ours while this process holds the store."""
        return nullcontext() if self._held is not None else exclusive(self.state.path(LOCK))

    def stats(self) -> dict[str, Any]:
        """Chunk, document and file counts, from the manifest and the store's count, with where the store is.

        A store whose manifest predates document counts is counted by reading every chunk's metadata.
        """
        with Manifest(self.state.path(MANIFEST), readonly=True) as manifest:
            totals = manifest.totals()
        where = self.store.describe()
        if "path" not in where:  # the store's data is elsewhere: say where this machine keeps its files
            where["state"] = str(self.state.folder.resolve())
        if totals is None:
            return {**self.store.stats(), **where}
        files, documents = totals
        return {"chunks": self.store.count(), "documents": documents, "files": files, **where}

    def check_index(self) -> None:
        """Once per pipeline, before its first search: bring the keyword index in step with the store.

        Under the store's lock; while an ingest holds it, that ingest is
        writing both and will leave them in step, so the check is skipped.
        """
        if self.collection.index is None or self._index_checked:
            return
        self._index_checked = True
        try:
            with self.store_lock():
                self.collection.sync_index()
        except StoreLockedError:
            log.info("an ingest is running: searching the keyword index as it stands")

    @contextmanager
    def _disk_full_named(self) -> Iterator[None]:
        """Turn a write that failed for want of space into a ``StoreFullError`` naming the folder and what is free.

        Chroma reports a full disk as "Error in compaction" or "disk I/O error", not
        as ENOSPC, so a failure while the store's filesystem has under
        ``LOW_SPACE_BYTES`` free counts as one too. The ingest stopped between
        batches, as a killed one does: run again once there is room, and it resumes.
        """
        try:
            yield
        except (StoreLockedError, SettingsChangedError, StoreUnavailableError):
            raise  # ragkit's own answers, whatever the free space
        except Exception as exc:
            folder = self.state.folder
            free = shutil.disk_usage(folder).free if folder.exists() else None
            if free is None or not (_in_chain(exc, errno.ENOSPC) or "disk is full" in str(exc) or free < LOW_SPACE_BYTES):
                raise
            cause = (str(exc).splitlines() or [""])[0]
            raise StoreFullError(
                f"no space left on device ({folder}), {free / 1e6:.1f} MB free; make room and run the ingest "
                f"again: it resumes where it stopped ({type(exc).__name__}: {cause})",
            ) from exc

    def _must_drop(self, manifest: Manifest, rebuild: bool) -> bool:
        """Whether the store must be dropped and filled again; refuses a store built with other settings.

        Dropped: a store without a manifest (or a half-dropped one), a rebuild,
        and a store that is empty while its manifest lists chunks. That last one
        happens when the store lives elsewhere (a Chroma server whose data was
        wiped, or another server at the same address): trusting the manifest
        would skip every file as unchanged and leave the store empty.
        """
        stored = manifest.fingerprint()
        if stored is None or rebuild:
            return True
        if stored != self.fingerprint():
            raise SettingsChangedError(
                f"the store at {self.state.folder} was built with other chunker, embedder or "
                "loader settings; rebuild it with `ragkit ingest --rebuild PATH` (Python: "
                "rag.ingest(path, rebuild=True)), which drops all its chunks and ingests PATH again"
            )
        if manifest.lists_chunks() and self.store.count() == 0:
            log.warning(
                "the store is empty but its manifest (%s) lists chunks: its data was deleted, or it is another "
                "store; ingesting everything again",
                manifest.path,
            )
            return True
        return False

    def _drop_all(self, manifest: Manifest, report: IngestReport) -> None:
        """Empty the manifest, then the store, then record the new fingerprint.

        Until that last step the manifest has no fingerprint, so an ingest killed
        on the way leaves a store that the next ingest empties again.
        """
        manifest.reset(None)
        report.chunks_removed += self.collection.clear()
        manifest.reset(self.fingerprint())

    def _apply(self, manifest: Manifest, planned: Plan, report: IngestReport, progress: bool | None) -> None:
        """Remove, refresh, then load and write files in batches of ``loading.batch_chunks``, each committed
        on its own (``Batcher``), here or on a Ray cluster; a file with more chunks than that is split over several batches."""
        ray = self.settings.engine == "ray"
        if ray:  # told apart here: a file only touched is no work for the cluster (the local engine reads it once)
            settle_touched(planned, report)
        with timed(report.timings, "write"):
            for source in planned.removed:
                report.chunks_removed += self.collection.delete_file(planned.root, source)
            manifest.commit(planned.root, planned.touched, planned.removed)
        if not planned.work:
            return  # nothing to load: no model, no pool, no cluster
        embed = None if ray else self.embedder.embed_documents
        batcher = Batcher(manifest, planned.root, self.collection, report, self.settings.batch_chunks, embed)
        bar = Progress(len(planned.work), progress)
        try:
            if ray:
                ray_engine.run(self.settings.ray, self.loader_specs, self.stages, planned, batcher, report, bar)
            else:
                self._load_here(planned, batcher, report, bar)
            batcher.close()
        finally:
            bar.close()

    def _load_here(self, planned: Plan, batcher: Batcher, report: IngestReport, bar: Progress) -> None:
        """The local engine: files loaded in order (by the loading pool, if any) and chunked in this process."""
        work = [(item.path, item.source, item.known) for item in planned.work]
        with closing(reads(work, self.by_extension, self.loader_specs, self.settings.worker_count())) as loaded:
            for item in planned.work:
                with timed(report.timings, "load"):
                    read = next(loaded)
                if read.touched:  # only its mtime is new: the row is refreshed with the next batch's commit
                    report_unchanged(report, read.source, read.reason)
                    batcher.keep(Part(read.source, read.entry, fresh=True))
                    bar.update(0)
                    continue
                part = Part(read.source, read.entry, item.fresh)
                for chunk in file_chunks(read, planned.root, self.chunker, report.timings):
                    part = batcher.add(part, chunk)
                chunks = batcher.end(part, read.reason, len(read.documents), item.is_new)
                del read  # a large file's text goes before the next file loads
                bar.update(chunks)


def _in_chain(exc: BaseException | None, code: int) -> bool:
    """Whether ``exc``, or an exception it was raised from or during, is an ``OSError`` with errno ``code``."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == code:
            return True
        exc = exc.__cause__ or exc.__context__
    return False
