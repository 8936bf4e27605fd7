"""The pipeline: the one place where stages meet.

``RAG`` builds every stage from a validated ``PipelineConfig`` and hands each
one what it needs (the embedder to the chunker and retriever, the store and the
keyword index to the retriever, a path next to the store to the index, the
generator to the augmenter). Building is cheap; models load on first use.

The keyword index, when there is one, is kept in step with the store: chunks
go into the index after the store, and out of it before the store, so a crash
never leaves the index listing a chunk the store has not got; when their
counts differ (a store built before the index existed, a crash between the two
writes, new tokenizer settings) the index is rebuilt from the store.
"""

from __future__ import annotations

import errno
import json
import logging
import multiprocessing
import os
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, ExitStack, closing, contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ragkit import registry
from ragkit.answering import Answerer, TokenStream
from ragkit.augmenters.base import Augmenter
from ragkit.chunkers.base import Chunker
from ragkit.compression import compress
from ragkit.config import PipelineConfig, StageConfig, deep_merge, load_config, load_yaml
from ragkit.embedders.base import Embedder
from ragkit.evaluation import EvalQuestion, EvalReport, evaluate
from ragkit.generators.base import Generator
from ragkit.indexes.base import KeywordIndex
from ragkit.loaders.base import LoadError, Loader
from ragkit.loaders.walker import printable, walk
from ragkit.manifest import Entry, Manifest, SettingsChangedError, StoreLockedError, exclusive, file_digest
from ragkit.neighbours import widen
from ragkit.rerankers.base import Reranker
from ragkit.retrievers.base import Retriever
from ragkit.stores.base import StoreFullError, StoreUnavailableError, VectorStore, Where
from ragkit.types import Answer, Chunk, Document, Failed, Hit, IngestReport, Prompt, Skipped, content_hash

log = logging.getLogger(__name__)

# The pipeline's files next to the store (see ragkit.manifest).
MANIFEST = "manifest.sqlite"
LOCK = "lock"
INDEX = "index-{type}"  # the keyword index's folder, per index type

# A write that fails with less than this free under the store is taken for a full disk (see _disk_full_named).
LOW_SPACE_BYTES = 64 * 1024 * 1024

# Without a terminal for a bar, a progress line this often keeps logs readable.
PROGRESS_LOG_SECONDS = 10.0

# Files a loading worker may have loaded ahead of the chunker: enough to keep it busy while the
# main process embeds, few enough that memory does not grow with the folder.
IN_FLIGHT_PER_WORKER = 2


@dataclass
class _Plan:
    """What an ingest will do to one root: files to load, manifest rows to refresh, sources to delete."""

    root: str
    work: list[tuple[Path, str, bool]] = field(default_factory=list)  # (path, source, is new)
    touched: list[Entry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass
class _Read:
    """One file as its loader left it, picklable so that it can come back from a loading worker.

    ``entry`` is None when the file could not even be read; ``reason`` says why a file has no documents.
    """

    source: str
    entry: Entry | None
    documents: list[Document] = field(default_factory=list)
    reason: str | None = None


@dataclass
class _Part:
    """Some of one file's chunks on their way to the store; ``last`` when they end the file.

    A large file is written over several batches; its manifest row goes in with
    the batch holding its last part. ``entry`` is None when the file could not even be read.
    """

    source: str
    entry: Entry | None
    chunks: list[Chunk] = field(default_factory=list)
    last: bool = True


class _Progress:
    """A bar over files (with a chunk count), a log line every ``PROGRESS_LOG_SECONDS``, or nothing.

    ``mode`` True is the bar, False nothing, None the bar on a terminal and log lines elsewhere.
    """

    def __init__(self, total: int, mode: bool | None):
        from tqdm import tqdm

        terminal = mode is True or (mode is None and sys.stderr.isatty())
        self.bar = tqdm(total=total, desc="ingesting", unit="file") if terminal and total else None
        self.logging = mode is None and not terminal
        self.total, self.files, self.chunks = total, 0, 0
        self.last = time.monotonic()

    def update(self, chunks: int) -> None:
        self.files += 1
        self.chunks += chunks
        if self.bar is not None:
            self.bar.set_postfix(chunks=self.chunks, refresh=False)
            self.bar.update(1)
        elif self.logging and (self.files == self.total or time.monotonic() - self.last >= PROGRESS_LOG_SECONDS):
            log.info("ingesting: %d/%d files, %d chunks", self.files, self.total, self.chunks)
            self.last = time.monotonic()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class RAG:
    """Ingest folders into a vector store and answer questions from them with a local model."""

    def __init__(self, config: PipelineConfig):
        self.config = config
        stage_configs = self._stage_configs = config.stage_configs()
        # Classes and validated configs: what a loading worker builds its own loaders from.
        self._loader_specs = [
            (registry.get("loader", name), loader_config) for name, loader_config in config.loader_configs()
        ]
        self.loaders: list[Loader] = [cls(loader_config) for cls, loader_config in self._loader_specs]
        self.embedder: Embedder = _build("embedder", config, stage_configs)
        self.store: VectorStore = _build("store", config, stage_configs)
        self.index: KeywordIndex | None = (
            _build("index", config, stage_configs, path=self.store.sidecar(INDEX.format(type=config.index.type)))
            if config.index is not None
            else None
        )
        self.generator: Generator = _build("generator", config, stage_configs)
        self.chunker: Chunker = _build("chunker", config, stage_configs, counter=self.embedder)
        self.retriever: Retriever = _build(
            "retriever", config, stage_configs, embedder=self.embedder, store=self.store, index=self.index
        )
        self.reranker: Reranker | None = _build("reranker", config, stage_configs) if config.reranker is not None else None
        self._index_checked = False
        self._held: ExitStack | None = None  # the store's lock, while a server holds it (hold_store)
        self.augmenter: Augmenter = _build("augmenter", config, stage_configs, counter=self.generator)
        self.answerer = Answerer(self.generator, config.answer)
        self._by_extension = _by_extension(self.loaders)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> "RAG":
        """Build from a pipeline file; ``overrides`` is merged over it (e.g. ``{"store": {"path": ...}}``)."""
        return cls(load_yaml(path, overrides))

    @classmethod
    def from_dict(cls, data: dict[str, Any], overrides: dict[str, Any] | None = None) -> "RAG":
        return cls(load_config(deep_merge(data, overrides or {})))

    # ingestion ---------------------------------------------------------------

    def ingest(
        self,
        path: str | Path,
        *,
        prune: bool = True,
        rebuild: bool = False,
        dry_run: bool = False,
        progress: bool | None = None,
    ) -> IngestReport:
        """Make the store mirror ``path`` (a folder, recursively, or one file) and say what changed.

        New files are added, changed ones replace their chunks, unchanged ones are
        skipped without loading; for a folder, files gone from it are deleted
        (``prune``). A file that cannot be read is reported with its reason;
        nothing aborts the run. ``rebuild`` drops every chunk first, which is
        required once the chunker, embedder or loader settings have changed.
        ``dry_run`` reports what would change and writes nothing. ``progress``:
        a bar (True), nothing (False), or a bar on a terminal and a log line
        every few seconds elsewhere (None).
        """
        started = time.perf_counter()
        target = Path(os.path.abspath(path))  # "docs/../docs" and "docs" are one root
        loading = self.config.loading
        skipped: list[Skipped] = []
        files = list(walk(target, loading.include, loading.exclude, loading.follow_symlinks, skipped))
        folder = target.is_dir()
        root = printable(str(target if folder else target.parent))
        report = IngestReport(root=root, dry_run=dry_run, files_seen=len(files), skipped=skipped)
        for link in skipped:
            log.info("skipped %s: %s", link.path, link.reason)
        if dry_run:
            with Manifest(self.store.sidecar(MANIFEST), readonly=True) as manifest:
                drop = self._must_drop(manifest, rebuild)
                plan = self._plan(None if drop else manifest, root, files, folder, prune, report)
            report.added = [source for _, source, is_new in plan.work if is_new]
            report.updated = [source for _, source, is_new in plan.work if not is_new]
        else:
            with self._disk_full_named(), self._store_lock(), Manifest(self.store.sidecar(MANIFEST)) as manifest:
                if self._must_drop(manifest, rebuild):
                    self._drop_all(manifest, report)
                with _timed(report.timings, "write"):
                    self._sync_index()
                with _timed(report.timings, "plan"):
                    plan = self._plan(manifest, root, files, folder, prune, report)
                self._apply(manifest, plan, report, progress)
                if self.index is not None:
                    with _timed(report.timings, "write"):
                        self.index.refresh()  # built once here, not by the first question
        report.seconds = time.perf_counter() - started
        for failed in report.failed:
            log.warning("failed %s: %s", failed.path, failed.reason)
        return report

    def hold_store(self, server: str) -> None:
        """Hold the store's lock from now until ``release_store``: what ``ragkit serve`` at ``server`` does.

        Only for a single-process store (embedded Chroma), whose open client would
        never see another process's writes: an ingest from elsewhere is refused,
        with a message naming ``server``, instead of leaving this one silently stale.
        This process's own ingests (``POST /v1/ingest``) go on under the held lock.
        """
        if self._held is None and self.store.single_process:
            held = ExitStack()
            held.enter_context(exclusive(self.store.sidecar(LOCK), server))
            self._held = held

    def release_store(self) -> None:
        """Let other processes write to the store again (see ``hold_store``)."""
        if self._held is not None:
            self._held.close()
            self._held = None

    def _store_lock(self) -> AbstractContextManager[None]:
        """The store's lock for one ingest or index check: already ours while this process holds the store."""
        return nullcontext() if self._held is not None else exclusive(self.store.sidecar(LOCK))

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
            folder = self.store.sidecar(MANIFEST).parent
            free = shutil.disk_usage(folder).free if folder.exists() else None
            if free is None or not (_in_chain(exc, errno.ENOSPC) or "disk is full" in str(exc) or free < LOW_SPACE_BYTES):
                raise
            cause = (str(exc).splitlines() or [""])[0]
            raise StoreFullError(
                f"no space left on device ({folder}), {free / 1e6:.1f} MB free; make room and run the ingest "
                f"again: it resumes where it stopped ({type(exc).__name__}: {cause})",
            ) from exc

    def ingest_fingerprint(self) -> str:
        """Identifies the settings that shape chunks and vectors; a store built with others must be rebuilt."""
        settings = {
            "chunker": [self.config.chunker.type, self._stage_configs["chunker"].model_dump(mode="json")],
            "embedder": self.embedder.fingerprint,
            "loaders": [[name, config.model_dump(mode="json")] for name, config in self.config.loader_configs()],
        }
        return content_hash(json.dumps(settings, sort_keys=True))

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
        if stored != self.ingest_fingerprint():
            raise SettingsChangedError(
                f"the store at {self.store.sidecar(MANIFEST).parent} was built with other chunker, embedder or "
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
        ids = self.store.ids()
        if self.index is not None:
            self.index.clear()
        self.store.delete(ids)
        report.chunks_removed += len(ids)
        manifest.reset(self.ingest_fingerprint())

    def _plan(
        self,
        manifest: Manifest | None,
        root: str,
        files: list[tuple[Path, str]],
        folder: bool,
        prune: bool,
        report: IngestReport,
    ) -> _Plan:
        """Find the files to load (new or changed), to refresh (touched only) and to remove.

        Size and mtime unchanged means unchanged; otherwise the content digest
        decides, so a ``touch`` or a fresh checkout does not re-embed anything.
        """
        entries = manifest.entries(root) if manifest else {}
        pending = manifest.pending(root) if manifest else set()
        plan = _Plan(root)
        walked = set()
        for file_path, source in files:
            walked.add(source)
            entry = entries.get(source)
            try:
                stat = file_path.stat()
                same = entry is not None and (entry.size, entry.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
                if entry is not None and not same and source not in pending and file_digest(file_path) == entry.digest:
                    plan.touched.append(replace(entry, size=stat.st_size, mtime_ns=stat.st_mtime_ns))
                    same = True
            except OSError as exc:
                report.failed.append(Failed(source, f"cannot read file: {exc.strerror or exc}"))
                plan.removed.append(source)
                continue
            if entry is None or source in pending or not same:
                plan.work.append((file_path, source, entry is None))
            elif entry.error:
                report.failed.append(Failed(source, entry.error))
            else:
                report.unchanged.append(source)
        # Only a folder ingest sees the whole root, so only it may decide that a file has gone.
        gone = {source for source in entries if source not in walked} if folder and prune else set()
        interrupted = pending - walked if folder else set()  # chunks a killed run left behind
        report.removed.extend(sorted((gone | interrupted) & entries.keys()))
        plan.removed.extend(sorted(gone | interrupted))
        return plan

    def _apply(self, manifest: Manifest, plan: _Plan, report: IngestReport, progress: bool | None) -> None:
        """Remove, refresh, then load and write files in batches of ``loading.batch_chunks``, each committed
        on its own; a file with more chunks than that is split over several batches."""
        with _timed(report.timings, "write"):
            for source in plan.removed:
                report.chunks_removed += self._delete_chunks(plan.root, source)
            manifest.commit(plan.root, plan.touched, plan.removed)
        limit = self.config.loading.batch_chunks
        batch: list[_Part] = []
        batched = 0
        bar = _Progress(len(plan.work), progress)
        with closing(self._reads([(file_path, source) for file_path, source, _ in plan.work])) as reads:
            for _, source, is_new in plan.work:
                with _timed(report.timings, "load"):
                    read = next(reads)
                part = _Part(read.source, read.entry)
                ids: list[str] = []
                for chunk in self._chunk(read, plan.root, report.timings):
                    if batched >= limit:
                        self._write(manifest, plan.root, [*batch, replace(part, last=False)], report)
                        batch, batched, part = [], 0, replace(part, chunks=[])
                    part.chunks.append(chunk)
                    ids.append(chunk.id)
                    batched += 1
                self._finish(part, read, ids, report)
                del read  # a large file's text goes before the next file loads
                if ids:
                    (report.added if is_new else report.updated).append(source)
                batch.append(part)
                bar.update(len(ids))
                if batched >= limit:
                    self._write(manifest, plan.root, batch, report)
                    batch, batched = [], 0
        self._write(manifest, plan.root, batch, report)
        bar.close()

    def _reads(self, work: list[tuple[Path, str]]) -> Iterator[_Read]:
        """Each file of ``work`` loaded, in order: by a pool of worker processes when there is one.

        The pool lets PDF parsing use every core while this process chunks,
        embeds and writes. Should it break (a worker killed, say by the OOM
        killer), the run goes on: the remaining files are loaded here.
        """
        workers = min(self.config.loading.worker_count(), len(work))
        done = 0
        if workers > 1:
            try:
                for read in self._pool_reads(work, workers):
                    done += 1
                    yield read
            except BrokenProcessPool as exc:
                log.warning("a loading worker died (%s); loading the other %d files here", exc, len(work) - done)
        for file_path, source in work[done:]:
            yield _read(self._by_extension, file_path, source)

    def _pool_reads(self, work: Iterable[tuple[Path, str]], workers: int) -> Iterator[_Read]:
        """``work`` loaded by ``workers`` processes, in order, at most ``IN_FLIGHT_PER_WORKER`` files each ahead.

        Spawned, not forked: this process may hold torch's and Chroma's threads,
        whose locks a fork would copy in whatever state they are.
        """
        pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self._loader_specs,),
        )
        try:
            in_flight: deque[Future[_Read]] = deque()
            for file_path, source in work:
                in_flight.append(pool.submit(_read_in_worker, file_path, source))
                if len(in_flight) >= IN_FLIGHT_PER_WORKER * workers:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()
        finally:
            pool.shutdown(cancel_futures=True)

    def _chunk(self, read: _Read, root: str, timings: dict[str, float]) -> Iterator[Chunk]:
        """A loaded file's chunks, pulled from the chunker one at a time (its time goes to ``chunk``)."""
        if read.entry is None or read.reason is not None:
            return
        for document in read.documents:
            document.metadata["root"] = root
            chunks = iter(self.chunker.chunk(document))
            while True:
                with _timed(timings, "chunk"):
                    chunk = next(chunks, None)
                if chunk is None:
                    break
                yield chunk

    @staticmethod
    def _finish(part: _Part, read: _Read, ids: list[str], report: IngestReport) -> None:
        """Record a file's chunk ids in its row; a file without documents or chunks becomes a failure with its reason."""
        entry = part.entry
        if entry is None or not ids:
            reason = read.reason or "no text to index"
            report.failed.append(Failed(part.source, reason))
            if entry is not None:
                entry.error = reason
            return
        report.files_loaded += 1
        report.documents += len(read.documents)
        entry.chunk_ids = ids

    def _write(self, manifest: Manifest, root: str, batch: list[_Part], report: IngestReport) -> None:
        """Mark the batch's files pending, embed and upsert its chunks; for the files it ends, drop their
        stale chunks, then commit their rows. A file still going on stays pending."""
        if not batch:
            return
        with _timed(report.timings, "write"):
            manifest.mark_pending(root, [part.source for part in batch])
        chunks = [chunk for part in batch for chunk in part.chunks]
        with _timed(report.timings, "embed"):
            vectors = self.embedder.embed_documents([chunk.text for chunk in chunks]) if chunks else []
        with _timed(report.timings, "write"):
            if chunks:
                self.store.upsert(chunks, vectors)
                if self.index is not None:
                    self.index.upsert([chunk.id for chunk in chunks], chunks)
                report.chunks_written += len(chunks)
            ended = [part for part in batch if part.last]
            for part in ended:
                keep = set(part.entry.chunk_ids) if part.entry is not None else set()
                report.chunks_removed += self._delete_chunks(root, part.source, keep=keep)
            manifest.commit(
                root,
                [part.entry for part in ended if part.entry is not None],
                [part.source for part in ended if part.entry is None],
            )

    def _delete_chunks(self, root: str, source: str, keep: set[str] | None = None) -> int:
        """Delete a file's chunks, all of them or all but ``keep``; returns how many went.

        Asking the store, not the manifest, also catches chunks a killed run wrote without a row.
        """
        stale = [i for i in self.store.ids({"root": root, "source": source}) if not keep or i not in keep]
        if self.index is not None:
            self.index.delete(stale)
        self.store.delete(stale)
        return len(stale)

    def _sync_index(self) -> None:
        """Rebuild the keyword index from the store's chunks when the two hold different numbers of chunks.

        The write order keeps the index's chunks a subset of the store's, so
        equal counts mean equal contents. They differ for a store filled
        before it had an index, after a crash between the two writes, or
        when new tokenizer settings emptied the index.
        """
        if self.index is None:
            return
        stored, indexed = self.store.count(), self.index.count()
        if stored == indexed:
            return
        log.info("keyword index has %d chunks, the store %d: rebuilding it from the store", indexed, stored)
        self.index.clear()
        done = 0
        for ids, chunks in self.store.scan():
            self.index.upsert(ids, chunks)
            done += len(ids)
            log.info("keyword index: %d/%d chunks", done, stored)
        self.index.refresh()

    # querying ----------------------------------------------------------------

    def retrieve(self, question: str, k: int | None = None, where: Where | None = None) -> list[Hit]:
        """Scored chunks for ``question``, best first, without generating."""
        return self.retrieve_many([question], k, where)[0]

    def retrieve_many(
        self, questions: Sequence[str], k: int | None = None, where: Where | None = None
    ) -> list[list[Hit]]:
        """Scored chunks for each question, batched (one embedding call, one store query); with a reranker,
        its ``candidates`` reranked down to ``k``."""
        self._check_index()
        if self.reranker is None:
            return self.retriever.retrieve(questions, k, where)
        keep = k or self.top_k
        found = self.retriever.retrieve(questions, max(keep, self.reranker.candidates), where)
        return self.reranker.rerank(questions, found, keep)

    def _check_index(self) -> None:
        """Once per pipeline, before its first search: bring the keyword index in step with the store.

        Under the store's lock; while an ingest holds it, that ingest is
        writing both and will leave them in step, so the check is skipped.
        """
        if self.index is None or self._index_checked:
            return
        self._index_checked = True
        try:
            with self._store_lock():
                self._sync_index()
        except StoreLockedError:
            log.info("an ingest is running: searching the keyword index as it stands")

    def ask(self, question: str, k: int | None = None, where: Where | None = None) -> Answer:
        """Answer one question from the retrieved passages."""
        return self.ask_many([question], k, where)[0]

    def ask_many(self, questions: Sequence[str], k: int | None = None, where: Where | None = None) -> list[Answer]:
        """Answer many questions; the generator runs them in batches (``ragkit.answering`` checks each reply).

        A question that no passage reaches the prompt for (nothing retrieved, or
        nothing above the retriever's threshold) is answered with ``NO_ANSWER``
        and ``abstained=True``, without calling the generator.
        """
        timings: dict[str, float] = {}
        with _timed(timings, "retrieve"):
            hits = self.retrieve_many(questions, k, where)
        answers = self.answer_many(questions, hits)
        for answer in answers:
            answer.timings = {"retrieve": timings["retrieve"] / len(questions), **answer.timings}
        return answers

    def answer_many(self, questions: Sequence[str], hits: Sequence[list[Hit]]) -> list[Answer]:
        """Answer questions from passages already retrieved for them (as ``retrieve_many`` returns them)."""
        timings: dict[str, float] = {}
        with _timed(timings, "augment"):
            prompts = [self._prompt(question, found) for question, found in zip(questions, hits)]
        with _timed(timings, "generate"):
            answers = self.answerer.answer_many(questions, prompts)
        for answer in answers:
            answer.timings = {name: seconds / len(questions) for name, seconds in timings.items()}
        return answers

    @property
    def top_k(self) -> int:
        """How many passages a question is answered from."""
        return self.retriever.top_k

    def warm_up(self, generate: bool = True) -> None:
        """Load what a question needs (the embedder, the store, the keyword index; the generator too) now
        rather than on the first question; a second call costs nothing."""
        self.retrieve("warm up", k=1)
        if generate:
            self.generator.render([{"role": "user", "content": "warm up"}])

    def stream(self, question: str, k: int | None = None, where: Where | None = None) -> TokenStream:
        """Like ``ask``, but the answer arrives token by token; ``stream.answer`` is ``ask``'s answer once it ends."""
        return self.answerer.stream(question, self._prompt(question, self.retrieve(question, k, where)))

    def _prompt(self, question: str, hits: list[Hit]) -> Prompt:
        """The prompt for ``question``: its passages widened by their neighbours, then cut to the sentences closest
        to it, where configured; then the augmenter's."""
        settings = self.config.answer
        passages = compress(question, widen(hits, self.store, settings.neighbours), self.embedder, settings.sentences)
        return self.augmenter.build(question, passages)

    def evaluate(
        self,
        questions: str | Path | Iterable[EvalQuestion | dict[str, Any]],
        k: int = 10,
        *,
        generate: bool = True,
        where: Where | None = None,
        progress: bool | None = None,
    ) -> EvalReport:
        """Score this pipeline on a question set (a JSON Lines file, or questions): hit@k, MRR, answers, abstention.

        ``generate=False`` scores retrieval only, which is fast; the rules are in ``ragkit.evaluation``.
        """
        return evaluate(self, questions, k=k, generate=generate, where=where, progress=progress)

    def stats(self) -> dict[str, Any]:
        """Chunk, document and file counts of the store."""
        return self.store.stats()


def _by_extension(loaders: Iterable[Loader]) -> dict[str, Loader]:
    return {ext: loader for loader in loaders for ext in loader.extensions}


def _read(loaders: dict[str, Loader], file_path: Path, source: str) -> _Read:
    """Stat, digest and load one file; any failure becomes a one-line reason, never an exception.

    The digest is taken before loading: a file changed while it loads then
    looks changed to the next ingest, never falsely unchanged.
    """
    try:
        stat = file_path.stat()
        digest = file_digest(file_path)
    except OSError as exc:
        return _Read(source, None, reason=f"cannot read file: {exc.strerror or exc}")
    entry = Entry(source, stat.st_size, stat.st_mtime_ns, digest)
    loader = loaders.get(file_path.suffix.lower())
    if loader is None:
        return _Read(source, entry, reason=f"unsupported file type {file_path.suffix or '(none)'!r}")
    try:
        return _Read(source, entry, loader.load(file_path, source))
    except LoadError as exc:
        return _Read(source, entry, reason=str(exc))
    except Exception as exc:  # a loader bug must not abort a whole folder
        return _Read(source, entry, reason=f"{type(exc).__name__}: {exc}")


# A loading worker's loaders, built once by ``_start_worker``.
_worker_loaders: dict[str, Loader] = {}


def _start_worker(specs: list[tuple[type, StageConfig]]) -> None:
    """Build a loading worker's loaders from the classes and configs its parent validated."""
    _worker_loaders.update(_by_extension(cls(config) for cls, config in specs))
    threading.Thread(target=_exit_with_parent, daemon=True).start()


def _exit_with_parent() -> None:
    """End this worker when its parent dies: a SIGKILLed ingest cannot stop its pool, whose workers would linger."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        parent.join()
        os._exit(1)


def _read_in_worker(file_path: Path, source: str) -> _Read:
    return _read(_worker_loaders, file_path, source)


def _build(kind: str, config: PipelineConfig, stage_configs: dict[str, Any], **dependencies: Any) -> Any:
    cls, stage_config = registry.get(kind, getattr(config, kind).type), stage_configs[kind]
    if hasattr(cls, "choose"):  # a type that stands for another, picked for this machine (generator type auto)
        name, params = cls.choose(stage_config)
        cls = registry.get(kind, name)
        stage_config = cls.Config.model_validate(params)
    return cls(stage_config, **dependencies)


def _in_chain(exc: BaseException | None, code: int) -> bool:
    """Whether ``exc``, or an exception it was raised from or during, is an ``OSError`` with errno ``code``."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno == code:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class _timed:
    """Adds the seconds spent in a ``with`` block to ``timings[name]``."""

    def __init__(self, timings: dict[str, float], name: str):
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.started
