"""A stand-in for a small GPU: a batch function that raises the real CUDA out-of-memory error."""

from collections.abc import Callable, Sized
from typing import Any

import torch


def failing_above(limit: int, run: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``run``, except that a batch of more than ``limit`` items raises ``torch.OutOfMemoryError``."""

    def wrapped(batch: Sized) -> Any:
        if len(batch) > limit:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return run(batch)

    return wrapped
