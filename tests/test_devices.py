import logging

import pytest
import torch

from ragkit.devices import cpu_has_bfloat16, halving_on_oom, resolve_device, resolve_dtype


def _fits(limit: int):
    """A batch function that raises the real CUDA out-of-memory error above ``limit`` items."""
    sizes: list[int] = []

    def run(items: list[int]) -> list[int]:
        sizes.append(len(items))
        if len(items) > limit:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return [item * 10 for item in items]

    return run, sizes


def test_halves_until_batches_fit_and_keeps_order(caplog: pytest.LogCaptureFixture) -> None:
    run, sizes = _fits(limit=3)
    with caplog.at_level(logging.WARNING):
        assert halving_on_oom(run, list(range(10)), "test") == [i * 10 for i in range(10)]
    assert max(size for size in sizes if size <= 3) <= 3 and sizes[0] == 10
    assert "out of GPU memory with a batch of 10; retrying as 5 + 5" in caplog.text


def test_tensor_results_are_concatenated() -> None:
    def run(items: list[int]) -> torch.Tensor:
        if len(items) > 1:
            raise torch.OutOfMemoryError("simulated")
        return torch.tensor([[float(items[0])]])

    assert halving_on_oom(run, [1, 2, 3], "test").flatten().tolist() == [1.0, 2.0, 3.0]


def test_a_single_item_that_does_not_fit_raises() -> None:
    run, _ = _fits(limit=0)
    with pytest.raises(torch.OutOfMemoryError):
        halving_on_oom(run, [1, 2], "test")


def test_device_and_dtype_choice_on_this_machine() -> None:
    assert resolve_device("cpu") == "cpu" and resolve_device("cuda:1") == "cuda:1"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_dtype("auto", "cuda") is torch.bfloat16
    assert resolve_dtype("auto", "cuda", gpu_default="float16") is torch.float16
    assert resolve_dtype("bfloat16", "cpu") is torch.bfloat16
    native = torch.bfloat16 if cpu_has_bfloat16() else torch.float32
    assert resolve_dtype("auto", "cpu") is native
