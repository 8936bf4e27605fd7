"""The memo behind "render once, tokenize once, embed a question once"."""

from __future__ import annotations

import threading

from ragkit.memo import Memo


def test_a_batch_makes_only_what_is_missing_in_one_call_and_keeps_the_latest() -> None:
    calls: list[list[str]] = []

    def make(keys: list[str]) -> list[str]:
        calls.append(keys)
        return [key.upper() for key in keys]

    memo: Memo[str, str] = Memo(size=3)
    assert memo.get_many(["a", "b", "a"], make) == ["A", "B", "A"]
    assert memo.get_many(["b", "c"], make) == ["B", "C"]
    assert calls == [["a", "b"], ["c"]]
    memo.get("d", lambda: "D")  # four keys in a memo of three: "a", the least recently used, goes
    assert memo.get_many(["a"], make) == ["A"] and calls[-1] == ["a"]


def test_threads_share_one_memo() -> None:
    memo: Memo[int, int] = Memo(size=1000)
    results: list[list[int]] = []
    workers = [threading.Thread(target=lambda: results.append(memo.get_many(list(range(500)), lambda keys: [k * 2 for k in keys]))) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert all(result == [k * 2 for k in range(500)] for result in results) and len(results) == 4
