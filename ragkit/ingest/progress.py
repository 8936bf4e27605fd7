"""Progress of a long ingest: a bar on a terminal, a log line every few seconds elsewhere, or nothing."""

from __future__ import annotations

import logging
import sys
import time

log = logging.getLogger(__name__)

# Without a terminal for a bar, a progress line this often keeps logs readable.
PROGRESS_LOG_SECONDS = 10.0


class Progress:
    """A bar over files (with chunks and chunks/s), a log line every ``PROGRESS_LOG_SECONDS``, or nothing.

    ``mode`` True is the bar, False nothing, None the bar on a terminal and log lines elsewhere.
    """

    def __init__(self, total: int, mode: bool | None):
        from tqdm import tqdm

        terminal = mode is True or (mode is None and sys.stderr.isatty())
        self.bar = tqdm(total=total, desc="ingesting", unit="file") if terminal and total else None
        self.logging = mode is None and not terminal
        self.total, self.files, self.chunks = total, 0, 0
        self.started = self.last = time.monotonic()

    def update(self, chunks: int) -> None:
        self.files += 1
        self.chunks += chunks
        now = time.monotonic()
        rate = self.chunks / max(now - self.started, 1e-9)
        if self.bar is not None:
            self.bar.set_postfix(chunks=self.chunks, chunks_per_s=f"{rate:.1f}", refresh=False)
            self.bar.update(1)
        elif self.logging and (self.files == self.total or now - self.last >= PROGRESS_LOG_SECONDS):
            log.info("ingesting: %d/%d files, %d chunks, %.1f chunks/s", self.files, self.total, self.chunks, rate)
            self.last = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
