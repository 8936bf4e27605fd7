"""Seconds per step, for the ``timings`` that ingest reports and answers carry."""

from __future__ import annotations

import time


class timed:
    """Adds the seconds spent in a ``with`` block to ``timings[name]``."""

    def __init__(self, timings: dict[str, float], name: str):
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.started
