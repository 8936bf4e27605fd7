"""``generator: {type: auto}``: the engine this machine runs fastest, chosen when the pipeline is built.

On CUDA (and Apple's MPS) that is transformers, with its compiled decode loop. On a CPU it is
llama.cpp over the shipped 4-bit GGUF when ``llama-cpp-python`` is installed: there it answers
with the 1.5B model in about the time transformers takes for the 0.5B (benchmarks/RESULTS.md);
without it, transformers, after one line saying what to install.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from ragkit.stage import StageConfig
from ragkit.devices import resolve_device

log = logging.getLogger(__name__)

LLAMA_CPP_INSTALL = "pip install llama-cpp-python (a source build, about 5 minutes on 2 cores; scripts/setup.sh does it)"


def llama_cpp_installed() -> bool:
    """Found without importing it: the import loads its native library."""
    return importlib.util.find_spec("llama_cpp") is not None


class AutoGenerator:
    """Stands for another generator type; the pipeline builds what ``choose`` names (it is never built itself)."""

    class Config(StageConfig):
        model: str = "auto"  # the engine's own ``auto``, or an alias, folder, hub id or .gguf path
        device: str = "auto"  # auto: CUDA, then MPS, then the CPU
        max_new_tokens: int = 96  # a one-sentence answer; every dev-half choice was measured at 96
        temperature: float = 0.0
        top_p: float = 1.0

    @staticmethod
    def choose(config: Config) -> tuple[str, dict[str, Any]]:
        """The generator type for this machine and its parameters."""
        device = resolve_device(config.device)
        shared = config.model_dump(exclude={"device"})
        if device == "cpu":
            if llama_cpp_installed():
                return "llamacpp", shared
            log.warning("llama-cpp-python is not installed, so the CPU generator is the slower transformers one; %s", LLAMA_CPP_INSTALL)
        return "transformers", {**shared, "device": device}
