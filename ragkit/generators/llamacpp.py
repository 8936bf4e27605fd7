"""A local GGUF model through llama.cpp (``llama-cpp-python``): the fast path on a CPU.

The packaged models ship as 4-bit GGUF files, which llama.cpp reads as they are:
no dequantised copy, and decode runs close to the memory bus's pace (24 ms a
token for the 0.5B against 160-190 ms through transformers on the same 2-core
machine, benchmarks/RESULTS.md). llama.cpp also keeps the previous prompt's KV
cache and re-evaluates only what differs, so the system text and instructions
that every RAG prompt shares are prefilled once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal

from ragkit import models
from ragkit.stage import StageConfig
from ragkit.generators.base import Messages, PromptMemo, plain_transcript

log = logging.getLogger(__name__)

# ``model: auto``: the 1.5B where it is installed (it answered more dev questions right, and through
# llama.cpp it costs about what the 0.5B costs through transformers; benchmarks/RESULTS.md), else the 0.5B.
AUTO_MODEL = "qwen2.5-coder-1.5b-instruct"
FALLBACK_MODEL = "qwen2.5-coder-0.5b-instruct"


def default_threads() -> int:
    """One thread per core this process may run on: llama.cpp's decode slows sharply when threads outnumber cores."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def has_amx() -> bool:
    """Whether this CPU has Intel AMX (Sapphire Rapids and later), read from ``/proc/cpuinfo`` (Linux only)."""
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


_PATCHING = threading.Lock()  # two generators loading at once must not save each other's wrapper as the default


@contextmanager
def plain_weight_buffers(llama_cpp_module: Any) -> Iterator[None]:
    """Models loaded inside keep their weights in plain CPU buffers, without llama.cpp's extra (repacked) ones.

    On a CPU with AMX, llama.cpp moves Q4_K weights into AMX buffers, and the first matmul on them
    crashed the process here (SIGSEGV in ``decode``; ggml-org/llama.cpp#20824). ``Llama`` takes no
    argument for ``use_extra_bufts``, so the default parameters it starts from are wrapped while it loads.
    """
    with _PATCHING:
        default_params = llama_cpp_module.llama_model_default_params

        def params() -> Any:
            value = default_params()
            value.use_extra_bufts = False
            return value

        llama_cpp_module.llama_model_default_params = params
        try:
            yield
        finally:
            llama_cpp_module.llama_model_default_params = default_params


class LlamaCppGenerator:
    """A GGUF model on the CPU with its own chat template and tokenizer; greedy unless a temperature is set.

    One llama.cpp context serves every call, under a lock (a context is not
    thread safe); batches run one prompt after another, which on a CPU is
    as fast as batching (benchmarks/RESULTS.md) and reuses the shared prefix.
    """

    class Config(StageConfig):
        model: str = "auto"  # the 1.5B where installed, else the 0.5B; or an alias of a packaged GGUF model, or a .gguf path
        max_new_tokens: int = 96  # a one-sentence answer; every dev-half choice was measured at 96
        temperature: float = 0.0
        top_p: float = 1.0
        context: int = 4096  # tokens of prompt plus answer the context holds (the augmenter's 2048 fits with room)
        threads: int | Literal["auto"] = "auto"  # auto: one per usable core

    def __init__(self, config: Config):
        self.config = config
        self._llama: Any = None
        self._template: Any = None
        self._lock = threading.Lock()
        self._memo = PromptMemo()

    def warm_up(self) -> None:
        self._load()

    @property
    def llama(self) -> Any:
        self._load()
        return self._llama

    def render(self, messages: Messages) -> str:
        return self._memo.text(messages, self._render)

    def _render(self, messages: Messages) -> str:
        self._load()
        if self._template is None:
            return plain_transcript(messages)  # a model without a chat template
        return str(self._template(messages=messages).prompt)

    def count_prompt_tokens(self, messages: Messages) -> int:
        return len(self._tokens(self.render(messages)))

    def generate(self, messages: Messages) -> str:
        return "".join(self.stream(messages)).strip()

    def generate_batch(self, batch: Sequence[Messages]) -> list[str]:
        return [self.generate(messages) for messages in batch]

    def stream(self, messages: Messages) -> Iterator[str]:
        """Text as it is decoded; llama.cpp holds back a piece that ends inside a multi-byte character."""
        prompt = self._tokens(self.render(messages))  # loads the model
        # A plain lock, not an RLock: a server may advance this stream from one worker thread after another.
        with self._lock:
            chunks = self._llama.create_completion(
                prompt=prompt,
                max_tokens=self.config.max_new_tokens,
                temperature=self.config.temperature,
                top_p=self.config.top_p,
                top_k=0 if self.config.temperature > 0 else 1,  # 0: no top-k cut when sampling
                min_p=0.0,
                repeat_penalty=1.0,
                stream=True,
            )
            for chunk in chunks:
                text = chunk["choices"][0]["text"]
                if text:
                    yield text

    def _tokens(self, prompt: str) -> list[int]:
        """The prompt's token ids; the template writes its special tokens as text, so they are parsed as such."""
        return self._memo.tokens(prompt, lambda text: list(self.llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)))

    def _load(self) -> None:
        if self._llama is not None:  # loaded: no lock, which a stream holds while it is suspended between pieces
            return
        with self._lock:
            if self._llama is not None:
                return
            import llama_cpp.llama_cpp as llama_cpp_lib
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            started = time.perf_counter()
            name, path = gguf_path(self.config.model)
            threads = default_threads() if self.config.threads == "auto" else self.config.threads
            amx = has_amx()
            with plain_weight_buffers(llama_cpp_lib) if amx else nullcontext():
                llama = Llama(
                    model_path=path,
                    n_ctx=self.config.context,
                    n_threads=threads,
                    n_threads_batch=threads,
                    n_gpu_layers=0,
                    verbose=False,
                )
            template = llama.metadata.get("tokenizer.chat_template")
            if template:
                self._template = Jinja2ChatFormatter(
                    template=template,
                    eos_token=_token_text(llama, llama.token_eos()),
                    bos_token=_token_text(llama, llama.token_bos()),
                )
            self._llama = llama
            log.info(
                "loaded generator %s through llama.cpp (%d threads%s) in %.1fs",
                name, threads, ", AMX CPU: plain weight buffers" if amx else "", time.perf_counter() - started,
            )


def gguf_path(model: str) -> tuple[str, str]:
    """The name and GGUF file of ``model`` (``auto``, an alias or a path); a model that is not GGUF is an error that says what to use."""
    name, resolved = models.resolve_preferred(AUTO_MODEL, FALLBACK_MODEL) if model == "auto" else (model, models.resolve(model))
    if resolved.gguf_file is None:
        raise models.ModelNotAvailableError(
            f"generator type llamacpp reads GGUF files, and {name!r} is not one ({resolved.location}); "
            "give a .gguf path or a packaged GGUF alias, or use generator type 'transformers'"
        )
    return name, os.path.join(resolved.location, resolved.gguf_file)


def _token_text(llama: Any, token: int) -> str:
    return llama.detokenize([token], special=True).decode("utf-8", errors="replace") if token >= 0 else ""
