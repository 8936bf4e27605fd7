"""Device and dtype choice shared by every stage that runs a torch model."""

from __future__ import annotations

from typing import Any, Literal

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
    """``auto`` is float32 on the CPU (bf16 matmuls are slower there on most CPUs) and a half type on a GPU."""
    import torch

    if dtype == "auto":
        dtype = "float32" if device == "cpu" else gpu_default
    return getattr(torch, dtype)
