"""One worker thread that owns the models, and gathers concurrent requests into batches.

torch must not run two generations on one model from two threads, and on a
loaded server single requests waste what batching could share (one embedding
call and one store query for many questions; padded batches on a GPU). So every
request that touches a model becomes a job on one queue, served by one thread:

- batchable jobs (``submit``) with the same key that arrive within ``max_wait``
  seconds of each other, up to ``max_batch`` of them, run as one call;
- other jobs (``submit_alone``: an ingest) and streams (``stream``: one at a
  time, between batches) run on their own, in arrival order.

``max_batch=1`` makes the one-at-a-time server that benchmarks/serve.py compares against.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class QueueFullError(RuntimeError):
    """More jobs are waiting than ``max_queue``: the client should come back later."""


@dataclass
class _Job:
    """One request's work. ``key`` None means it runs alone; otherwise ``run`` takes a batch of items."""

    key: Hashable | None
    run: Callable[[list[Any]], list[Any]] | Callable[[], Any]
    item: Any
    future: Future[Any]


_STOP = object()
_END = object()


class Batcher:
    def __init__(self, max_batch: int = 8, max_wait: float = 0.005, max_queue: int = 1024):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait, max_queue
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._counts = {"jobs": 0, "batches": 0, "batched_jobs": 0, "largest_batch": 0}

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="ragkit-model-worker", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish the job in hand, fail the ones still queued, and end the worker."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def submit(self, key: Hashable, run: Callable[[list[Any]], list[Any]], item: Any) -> Future[Any]:
        """``run([item, ...])`` with the items of other jobs under the same ``key``; the future gets this item's result."""
        return self._put(_Job(key, run, item, Future()))

    def submit_alone(self, work: Callable[[], Any]) -> Future[Any]:
        return self._put(_Job(None, work, None, Future()))

    def stream(self, produce: Callable[[], Iterable[Any]]) -> AsyncIterator[Any]:
        """The items of ``produce()``, as the worker makes them; queued at once (``QueueFullError`` now, not later).

        If the consumer stops early (a client went away), the worker still runs
        ``produce`` to its end, discarding the items: abandoning a token stream
        would leave its generation running on a thread of its own, beside the
        next job's.
        """
        loop = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()
        abandoned = threading.Event()

        def hand_over(item: Any, error: BaseException | None = None) -> None:
            if not abandoned.is_set():
                loop.call_soon_threadsafe(items.put_nowait, (item, error))

        def work() -> None:
            try:
                for item in produce():
                    hand_over(item)
            except Exception as exc:  # raised to the consumer, in its own task
                hand_over(_END, exc)
            else:
                hand_over(_END)

        self.submit_alone(work)
        return _received(items, abandoned)

    def stats(self) -> dict[str, Any]:
        counts = dict(self._counts)
        counts["queued"] = self._queue.qsize()
        counts["mean_batch"] = round(counts["batched_jobs"] / counts["batches"], 2) if counts["batches"] else 0.0
        counts["max_batch"] = self.max_batch
        return counts

    def _put(self, job: _Job) -> Future[Any]:
        if self._thread is None:
            raise RuntimeError("the batcher is not running; call start() first")
        if self._queue.qsize() >= self.max_queue:
            raise QueueFullError(f"{self.max_queue} requests are already waiting")
        self._counts["jobs"] += 1
        self._queue.put(job)
        return job.future

    def _work(self) -> None:
        while True:
            jobs = self._gather()
            stopping = jobs[-1] is _STOP
            if stopping:
                jobs.pop()
            for group in _groups(jobs):
                self._run(group)
            if stopping:
                self._fail_queued()
                return

    def _gather(self) -> list[Any]:
        """The next job, and any that arrive within ``max_wait`` of it, up to ``max_batch`` (or the stop mark)."""
        jobs = [self._queue.get()]
        deadline = time.monotonic() + self.max_wait
        while len(jobs) < self.max_batch and jobs[-1] is not _STOP:
            try:
                jobs.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return jobs

    def _run(self, group: list[_Job]) -> None:
        live = [job for job in group if job.future.set_running_or_notify_cancel()]
        if not live:
            return
        first = live[0]
        try:
            if first.key is None:
                first.future.set_result(first.run())  # type: ignore[call-arg]
                return
            self._counts["batches"] += 1
            self._counts["batched_jobs"] += len(live)
            self._counts["largest_batch"] = max(self._counts["largest_batch"], len(live))
            results = first.run([job.item for job in live])  # type: ignore[call-arg]
            for job, result in zip(live, results, strict=True):
                job.future.set_result(result)
        except Exception as exc:
            for job in live:
                if not job.future.done():
                    job.future.set_exception(exc)

    def _fail_queued(self) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Job) and job.future.set_running_or_notify_cancel():
                job.future.set_exception(RuntimeError("the server is shutting down"))


def _groups(jobs: list[_Job]) -> Iterator[list[_Job]]:
    """Jobs with equal keys together, each group where its first job arrived; keyless jobs alone."""
    groups: dict[Hashable, list[_Job]] = {}
    order: list[list[_Job]] = []
    for job in jobs:
        if job.key is None:
            order.append([job])
        elif job.key in groups:
            groups[job.key].append(job)
        else:
            groups[job.key] = [job]
            order.append(groups[job.key])
    yield from order


async def _received(items: asyncio.Queue[tuple[Any, BaseException | None]], abandoned: threading.Event) -> AsyncIterator[Any]:
    try:
        while True:
            item, error = await items.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        abandoned.set()
