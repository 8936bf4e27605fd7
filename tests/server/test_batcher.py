"""The batching queue on its own: which jobs run together, in which thread, and what happens on failure."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from ragkit.server.batcher import Batcher, QueueFullError


@pytest.fixture
def calls() -> list[list]:
    return []


def _running(max_batch: int, max_wait: float = 0.05, max_queue: int = 1024) -> Batcher:
    batcher = Batcher(max_batch, max_wait, max_queue)
    batcher.start()
    return batcher


def _upper(calls: list[list]):
    def run(items: list[str]) -> list[str]:
        calls.append(list(items))
        return [item.upper() for item in items]

    return run


def test_jobs_arriving_together_run_as_one_batch_of_at_most_max_batch(calls: list[list]) -> None:
    batcher = _running(max_batch=4)
    gate = threading.Event()
    blocker = batcher.submit_alone(gate.wait)  # holds the worker while the jobs queue up
    futures = [batcher.submit("k", _upper(calls), word) for word in "abcdef"]
    gate.set()
    assert blocker.result(5) is True
    assert [future.result(5) for future in futures] == list("ABCDEF")
    batcher.stop()
    assert calls == [list("abc"), list("def")]  # the blocker took one of the first gather's four places
    stats = batcher.stats()
    assert (stats["batches"], stats["largest_batch"], stats["mean_batch"], stats["jobs"]) == (2, 3, 3.0, 7)


def test_one_at_a_time_when_max_batch_is_one(calls: list[list]) -> None:
    batcher = _running(max_batch=1)
    gate = threading.Event()
    batcher.submit_alone(gate.wait)
    futures = [batcher.submit("k", _upper(calls), word) for word in "abc"]
    gate.set()
    assert [future.result(5) for future in futures] == list("ABC")
    batcher.stop()
    assert calls == [["a"], ["b"], ["c"]]


def test_different_keys_never_share_a_call(calls: list[list]) -> None:
    batcher = _running(max_batch=8)
    gate = threading.Event()
    batcher.submit_alone(gate.wait)
    futures = [batcher.submit(key, _upper(calls), f"{key}{n}") for n in range(2) for key in ("x", "y")]
    gate.set()
    assert [future.result(5) for future in futures] == ["X0", "Y0", "X1", "Y1"]
    batcher.stop()
    assert calls == [["x0", "x1"], ["y0", "y1"]]


def test_a_lone_job_waits_at_most_max_wait_for_company(calls: list[list]) -> None:
    batcher = _running(max_batch=8, max_wait=0.2)
    started = time.monotonic()
    assert batcher.submit("k", _upper(calls), "a").result(5) == "A"
    waited = time.monotonic() - started
    batcher.stop()
    assert 0.2 <= waited < 2.0 and calls == [["a"]]


def test_every_job_runs_on_the_one_worker_thread() -> None:
    batcher = _running(max_batch=4, max_wait=0.001)
    threads: set[str] = set()

    def note(items: list[int]) -> list[int]:
        threads.add(threading.current_thread().name)
        return items

    results = []
    workers = [
        threading.Thread(target=lambda n=n: results.append(batcher.submit("k", note, n).result(5))) for n in range(20)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    batcher.stop()
    assert sorted(results) == list(range(20)) and threads == {"ragkit-model-worker"}


def test_a_failing_batch_fails_each_of_its_jobs_and_the_worker_goes_on(calls: list[list]) -> None:
    batcher = _running(max_batch=4)
    gate = threading.Event()
    batcher.submit_alone(gate.wait)

    def broken(items: list[str]) -> list[str]:
        raise ValueError("bad batch")

    failing = [batcher.submit("bad", broken, word) for word in "ab"]
    fine = batcher.submit("good", _upper(calls), "c")
    gate.set()
    for future in failing:
        with pytest.raises(ValueError, match="bad batch"):
            future.result(5)
    assert fine.result(5) == "C"
    batcher.stop()


def test_a_full_queue_refuses_more_jobs() -> None:
    batcher = _running(max_batch=1, max_queue=2)
    gate = threading.Event()
    batcher.submit_alone(gate.wait)
    time.sleep(0.1)  # the worker has taken the blocker off the queue
    queued = [batcher.submit_alone(lambda: "late") for _ in range(2)]
    with pytest.raises(QueueFullError, match="2 requests are already waiting"):
        batcher.submit_alone(lambda: "one too many")
    gate.set()
    assert [future.result(5) for future in queued] == ["late", "late"]
    batcher.stop()
    with pytest.raises(RuntimeError, match="not running"):
        batcher.submit_alone(lambda: None)


def test_stop_finishes_the_job_in_hand_and_fails_those_queued_after_it() -> None:
    batcher = _running(max_batch=1)
    gate = threading.Event()
    in_hand = batcher.submit_alone(lambda: gate.wait() and "finished")
    time.sleep(0.1)
    stopper = threading.Thread(target=batcher.stop)
    stopper.start()
    time.sleep(0.1)  # the stop mark is queued; these come after it
    late = [batcher.submit_alone(lambda: "ran") for _ in range(2)]
    gate.set()
    stopper.join(5)
    assert not stopper.is_alive() and in_hand.result(5) == "finished"
    for future in late:
        with pytest.raises(RuntimeError, match="the server is shutting down"):
            future.result(5)


def test_stream_hands_over_items_in_order_and_raises_the_producers_error() -> None:
    batcher = _running(max_batch=4)

    def produce(fail: bool) -> Iterator[int]:
        yield from range(5)
        if fail:
            raise ValueError("broke after 5")

    async def consume(fail: bool) -> list[int]:
        return [item async for item in batcher.stream(lambda: produce(fail))]

    assert asyncio.run(consume(False)) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="broke after 5"):
        asyncio.run(consume(True))
    batcher.stop()


def test_an_abandoned_stream_still_runs_to_its_end_before_the_next_job() -> None:
    """Stopping a token stream half-way would leave its generation running beside the next job."""
    batcher = _running(max_batch=4)
    produced: list[int] = []

    def produce() -> Iterator[int]:
        for item in range(50):
            time.sleep(0.002)
            produced.append(item)
            yield item

    async def take_two() -> list[int]:
        taken = []
        stream = batcher.stream(produce)
        async for item in stream:
            taken.append(item)
            if len(taken) == 2:
                break
        await stream.aclose()  # type: ignore[attr-defined]
        return taken

    assert asyncio.run(take_two()) == [0, 1]
    assert batcher.submit_alone(lambda: len(produced)).result(5) == 50
    batcher.stop()
