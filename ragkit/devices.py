"""Device and dtype choice shared by every stage that runs a torch model."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

DeviceName = str
DtypeName = Literal["auto", "float32", "bfloat16", "float16"]


def resolve_device(device: DeviceName = "auto") -> str:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; anything else is used as given."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def resolve_dtype(dtype: DtypeName, device: str, *, gpu_default: str = "bfloat16") -> Any:
    """The torch dtype for ``dtype``; ``auto`` is a half type on a GPU, and on the CPU bfloat16 where it is native.

    On CPUs with native bf16 instructions (AVX512-BF16) Qwen2.5-0.5B decoded 2.7x
    and MiniLM embedded 2.8x faster than in float32 (benchmarks/RESULTS.md; the
    MiniLM vectors kept a cosine of 0.9999 to the float32 ones); elsewhere bf16
    is emulated and slower, so ``auto`` stays float32 there.
    """
    import torch

    if dtype == "auto":
        if device != "cpu":
            dtype = gpu_default
        elif cpu_has_bfloat16():
            dtype = "bfloat16"
        else:
            dtype = "float32"
    return getattr(torch, dtype)


def cpu_has_bfloat16() -> bool:
    """Whether this CPU runs bf16 matrix products natively (torch's own check, absent on some builds)."""
    import torch

    return bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())


def halving_on_oom(run: Callable[[list[T]], Any], items: list[T], what: str) -> Any:
    """``run(items)``, split in halves (recursively) when the GPU runs out of memory.

    Results of the halves are concatenated along the first dimension, so ``run``
    must return a tensor or a list. A single item that does not fit re-raises.
    """
    import torch

    try:
        return run(items)
    except torch.OutOfMemoryError:
        if len(items) == 1:
            raise
        torch.cuda.empty_cache()
        half = len(items) // 2
        log.warning("%s: out of GPU memory with a batch of %d; retrying as %d + %d", what, len(items), half, len(items) - half)
        first, second = halving_on_oom(run, items[:half], what), halving_on_oom(run, items[half:], what)
        return torch.cat([first, second]) if isinstance(first, torch.Tensor) else [*first, *second]
