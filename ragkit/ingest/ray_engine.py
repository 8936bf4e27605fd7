"""The Ray engine (``loading.engine: ray``): files parsed in Ray tasks, chunked and embedded by an actor pool,
written by this process.

This process, the driver, plans as the local engine does (``planning``) and writes every batch
through the same ``Batcher``, so chunk ids, metadata, the keyword index and the manifest's
commit points are the local engine's: a file's row is committed only once all its chunks are in
the store, and a killed driver leaves pending files that the next ingest, local or Ray, redoes.
Ray Data streams the rest: the planned files, ``map`` tasks that read and parse them with the
local engine's own ``reading.read`` (so a bad file fails with the same one-line reason), and an
actor pool in which each actor builds the embedder and chunker once, from the pipeline's
picklable stage builder, then chunks and embeds a batch of files per call. Ray restarts a lost
actor and retries a lost task. Every node must see the files at the same path (a shared file
system), and have ragkit installed.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import pickle
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.chunkers.base import Chunker
from ragkit.embedders.base import Embedder
from ragkit.ingest.batching import Batcher, Part, file_chunks
from ragkit.ingest.manifest import Entry
from ragkit.ingest.planning import Plan
from ragkit.ingest.progress import Progress
from ragkit.ingest.reading import LoaderSpecs, Read, by_extension, read
from ragkit.settings import RayConfig
from ragkit.stage import ConfigError
from ragkit.stores.base import VectorStore
from ragkit.timing import timed
from ragkit.types import Chunk, IngestReport

log = logging.getLogger(__name__)

INSTALL = "pip install 'ragkit[ray]'"
CONNECT_SECONDS = 10.0

# Builds the embedder and the chunker in a worker; picklable (the pipeline hands in a partial over its config).
StageBuilder = Callable[[], tuple[Embedder, Chunker]]

# Heap reserved for each parse task: a large PDF's bytes and text are held while it parses, and the
# reservation keeps Ray from starting more parse tasks on a node than its memory holds. Asking for
# other resources than the actors also keeps Ray Data from fusing parsing into them, so that files
# parse in tasks of their own while others embed.
PARSE_MEMORY_BYTES = 512 * 1024 * 1024


@dataclass
class Embedded:
    """One file as an embed actor hands it back: its manifest row, chunks and their vectors, or why it has none."""

    entry: Entry | None
    reason: str | None
    documents: int
    chunks: list[Chunk]
    vectors: np.ndarray
    timings: dict[str, float]


def check_usable(store: VectorStore) -> None:
    """Refuse, when the pipeline is built, a Ray ingest that cannot run: Ray not installed, or an embedded store."""
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(f"loading.engine: ray needs Ray, which is not installed; install the `ray` extra: {INSTALL}")
    if store.single_process:
        raise ConfigError(
            "loading.engine: ray needs a store that every machine of the cluster and every later query can "
            "reach, a Chroma server, and this pipeline's store is embedded (one process's folder); set "
            "`store: {mode: server, host: HOST, port: PORT}` (a server: `chroma run --path DIR`), or use "
            "loading.engine: local"
        )


def run(
    settings: RayConfig,
    loaders: LoaderSpecs,
    stages: StageBuilder,
    planned: Plan,
    batcher: Batcher,
    report: IngestReport,
    bar: Progress,
) -> None:
    """Parse, chunk and embed ``planned.work`` on the cluster, each file's chunks handed to ``batcher`` as it comes back.

    Files come back in the order they finish; the report lists them in the plan's order, as the local
    engine does. ``load``, ``chunk`` and ``embed`` in the timings are the workers' seconds, summed
    over workers that run at the same time; ``connect`` is the time to reach the cluster.
    """
    ray = _connect(settings.address, report)
    failed_before = len(report.failed)
    for row in _dataset(ray, settings, loaders, stages, planned).iter_rows():
        item = planned.work[row["index"]]
        done: Embedded = pickle.loads(row["file"])
        part = Part(item.source, done.entry, item.fresh)
        for chunk, vector in zip(done.chunks, done.vectors):
            part = batcher.add(part, chunk, vector)
        bar.update(batcher.end(part, done.reason, done.documents, item.is_new))
        for name, seconds in done.timings.items():
            report.timings[name] = report.timings.get(name, 0.0) + seconds
    order = {item.source: index for index, item in enumerate(planned.work)}
    report.added.sort(key=order.__getitem__)
    report.updated.sort(key=order.__getitem__)
    report.failed[failed_before:] = sorted(report.failed[failed_before:], key=lambda failed: order[failed.path])


def disconnect() -> None:
    """Leave the cluster if this process joined one (a one-shot command's end): its log thread stops printing."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def _connect(address: str | None, report: IngestReport) -> Any:
    """The ``ray`` module, connected to the cluster at ``address`` (once per process: later ingests reuse it)."""
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ConfigError(f"loading.engine: ray needs Ray ({exc}); install the `ray` extra: {INSTALL}") from None
    with timed(report.timings, "connect"):
        if not ray.is_initialized():
            try:
                _probe(address)
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            except ConnectionError as exc:
                raise ConnectionError(
                    f"cannot reach the Ray cluster at {address} (loading.ray.address, or $RAY_ADDRESS): {exc}; "
                    "start one with `ray start --head --port PORT`, or check the address"
                ) from None
    return ray


def _probe(address: str | None) -> None:
    """Fail within ``CONNECT_SECONDS`` when nothing listens at a host:port address: ``ray.init`` would retry for minutes."""
    host, _, port = (address or "").rpartition(":")
    if not host or not port.isdigit() or "://" in address:  # none, "auto", or a ray:// client address
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise ConnectionError(exc.strerror or str(exc)) from None


def _dataset(ray: Any, settings: RayConfig, loaders: LoaderSpecs, stages: StageBuilder, planned: Plan) -> Any:
    """The Ray Data pipeline: planned files, parsed in tasks of ``batch_size`` files, chunked and embedded by the actors."""
    ray.data.DataContext.get_current().enable_progress_bars = False  # the driver's own bar counts files and chunks
    rows = [{"index": index, "path": str(item.path), "source": item.source} for index, item in enumerate(planned.work)]
    files = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / settings.batch_size))
    parsed = files.map(_parse, fn_kwargs={"loaders": loaders}, memory=PARSE_MEMORY_BYTES)
    return parsed.map_batches(
        _ChunkAndEmbed,
        fn_constructor_kwargs={"stages": stages, "root": planned.root},
        batch_size=settings.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=settings.embed_actors),
        num_cpus=settings.cpus_per_actor,
        num_gpus=settings.gpus_per_actor,
    )


def _parse(row: dict[str, Any], loaders: LoaderSpecs) -> dict[str, Any]:
    """A Ray task: one file read and parsed, pickled (an Arrow block holds bytes without guessing a schema)."""
    started = time.perf_counter()
    loaded = read(by_extension(cls(config) for cls, config in loaders), Path(row["path"]), row["source"])
    return {"index": row["index"], "read": pickle.dumps(loaded), "load": time.perf_counter() - started}


class _ChunkAndEmbed:
    """An embed actor: builds the embedder and chunker once, then chunks a batch of parsed files and embeds their chunks together."""

    def __init__(self, stages: StageBuilder, root: str):
        self.embedder, self.chunker = stages()
        self.root = root

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        reads: list[Read] = [pickle.loads(data) for data in batch["read"]]
        timings = [{"load": float(seconds)} for seconds in batch["load"]]
        chunks = [list(file_chunks(loaded, self.root, self.chunker, spent)) for loaded, spent in zip(reads, timings)]
        texts = [chunk.text for file in chunks for chunk in file]
        started = time.perf_counter()
        vectors = self.embedder.embed_documents(texts) if texts else np.zeros((0, 0), dtype=np.float32)
        seconds = time.perf_counter() - started
        files, start = [], 0
        for loaded, file, spent in zip(reads, chunks, timings):
            if texts:
                spent["embed"] = seconds * len(file) / len(texts)  # the batch's time, shared out by chunks
            done = Embedded(loaded.entry, loaded.reason, len(loaded.documents), file, vectors[start : start + len(file)], spent)
            files.append(pickle.dumps(done))
            start += len(file)
        return {"index": batch["index"], "file": files}
