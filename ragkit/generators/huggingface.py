"""A local causal language model through transformers, on the GPU when there is one."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from ragkit import models
from ragkit.stage import StageConfig
from ragkit.devices import DtypeName, halving_on_oom, resolve_device, resolve_dtype
from ragkit.generators.base import Messages, PromptMemo, plain_transcript

log = logging.getLogger(__name__)

# Decode steps queued ahead of the last token read back. Reading every token back before queueing
# the next step left the GPU idle while Python prepared the step: 2.84 ms a token on an H100
# against 1.45 ms when the loop runs ahead (benchmarks/RESULTS.md). A stop token is thus seen up
# to this many steps late, and the steps after it are dropped.
READ_AHEAD = 8

# ``model: auto``. On a GPU the 1.5B model answers in about the time the 0.5B takes, and it answered
# 15 of 20 real-document questions against the 0.5B's 7 (issue 11's probe; benchmarks/RESULTS.md).
# On a CPU this engine is the fallback (``generators.auto`` picks llama.cpp there), and through it
# the 1.5B took 2.3-2.7x the 0.5B's time per answer (benchmarks/cpu.py), so it keeps the 0.5B.
GPU_MODEL = "qwen2.5-coder-1.5b-instruct"
CPU_MODEL = "qwen2.5-coder-0.5b-instruct"


def auto_model(device: str) -> str:
    """The model ``auto`` stands for on ``device`` (a resolved device name)."""
    return GPU_MODEL if device.startswith("cuda") else CPU_MODEL


class TransformersGenerator:
    """``AutoModelForCausalLM`` with the tokenizer's chat template; greedy unless a temperature is set.

    GGUF models are dequantised once and cached as safetensors, because
    dequantising takes tens of seconds on every load.

    Single greedy questions on a GPU decode in our own loop: a preallocated
    static KV cache and a one-token step (forward and argmax) compiled into CUDA
    graphs, since eager decoding spends most of each token launching kernels
    from Python. ``compile: auto`` does this on CUDA only; each cache size (a
    power of two) compiles once, on first use.
    Batches (``ask_many``) run eager, length-sorted and left-padded, halving
    on out-of-memory errors.
    """

    class Config(StageConfig):
        model: str = "auto"  # the 1.5B on CUDA, the 0.5B elsewhere (``auto_model``); or an alias, folder, hub id
        device: str = "auto"
        dtype: DtypeName = "auto"
        max_new_tokens: int = 96  # a one-sentence answer; every dev-half choice was measured at 96
        temperature: float = 0.0
        top_p: float = 1.0
        batch_size: int | Literal["auto"] = "auto"
        compile: Literal["auto", "on", "off"] = "auto"

    def __init__(self, config: Config):
        self.config = config
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._static_caches: dict[int, Any] = {}
        self._memo = PromptMemo()
        self._steps: dict[int, Callable[[Any, Any], Any]] = {}

    def warm_up(self) -> None:
        self._load()

    @property
    def tokenizer(self) -> Any:
        self._load()
        return self._tokenizer

    @property
    def model(self) -> Any:
        self._load()
        return self._model

    def render(self, messages: Messages) -> str:
        return self._memo.text(messages, self._render)

    def _render(self, messages: Messages) -> str:
        tokenizer = self.tokenizer
        if tokenizer.chat_template:
            return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        return plain_transcript(messages)  # base models have no chat template

    def count_prompt_tokens(self, messages: Messages) -> int:
        return len(self._memo.tokens(self.render(messages), self._token_ids))

    def _token_ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(self, messages: Messages) -> str:
        return self.generate_batch([messages])[0]

    def generate_batch(self, batch: Sequence[Messages]) -> list[str]:
        """Answers in input order; prompts run in length-sorted groups to keep padding small."""
        prompts = [self.render(messages) for messages in batch]
        order = sorted(range(len(prompts)), key=lambda index: len(prompts[index]))
        answers: list[str] = [""] * len(prompts)
        size = self._batch_size
        for start in range(0, len(order), size):
            group = order[start : start + size]
            texts = halving_on_oom(lambda part: self._generate_group([prompts[i] for i in part]), group, "generation")
            for index, text in zip(group, texts):
                answers[index] = text
        return answers

    @property
    def _batch_size(self) -> int:
        """``auto``: 64 on a GPU; 1 on the CPU, where batched prefill with padding was slower than a loop
        (benchmarks/RESULTS.md)."""
        if self.config.batch_size == "auto":
            return 1 if self.model.device.type == "cpu" else 64
        return max(1, self.config.batch_size)

    @property
    def _compiles(self) -> bool:
        return self.config.compile == "on" or (self.config.compile == "auto" and self.model.device.type == "cuda")

    def stream(self, messages: Messages) -> Iterator[str]:
        from transformers import TextIteratorStreamer

        inputs = self._encode([self.render(messages)])
        if self._decodes_greedy_loop:
            yield from self._stream_text(self._greedy_tokens(inputs))
            return
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        worker = threading.Thread(
            target=self._run_generate, kwargs={"inputs": inputs, "streamer": streamer}, daemon=True
        )
        worker.start()
        yield from (text for text in streamer if text)
        worker.join()

    def _generate_group(self, prompts: list[str]) -> list[str]:
        inputs = self._encode(prompts)
        output = self._run_generate(inputs=inputs)
        new_tokens = output[:, inputs["input_ids"].shape[1] :]
        return [text.strip() for text in self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]

    def _encode(self, prompts: list[str]) -> Any:
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        return encoded.to(self.model.device)

    def _run_generate(self, inputs: Any, streamer: Any = None) -> Any:
        import torch

        if inputs["input_ids"].shape[0] == 1 and self._decodes_greedy_loop:
            new = list(self._greedy_tokens(inputs))
            return torch.cat([inputs["input_ids"], torch.tensor([new], dtype=torch.long, device=self.model.device)], 1)
        sampling = self.config.temperature > 0
        options: dict[str, Any] = {"do_sample": sampling}
        if sampling:
            options.update(temperature=self.config.temperature, top_p=self.config.top_p)
        rows, length = inputs["input_ids"].shape
        with torch.inference_mode():
            if rows == 1 and self._compiles:
                options["past_key_values"] = self._static_cache(length + self.config.max_new_tokens)
            return self.model.generate(
                **inputs,
                max_new_tokens=self.config.max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                streamer=streamer,
                **options,
            )

    @property
    def _decodes_greedy_loop(self) -> bool:
        return self._compiles and self.config.temperature <= 0

    def _greedy_tokens(self, inputs: Any) -> Iterator[int]:
        """The new tokens of one prompt, greedy, each as soon as the device has it, up to a stop token.

        Each token is copied to pinned host memory behind a CUDA event and read
        once the event has passed, so the loop queues the next steps meanwhile,
        at most ``READ_AHEAD`` ahead of what it has read.
        """
        import torch

        ids = inputs["input_ids"]
        device, length, limit = ids.device, ids.shape[1], self.config.max_new_tokens
        stops = _stop_ids(self.model.generation_config.eos_token_id)
        cuda = device.type == "cuda"
        host = torch.empty(limit, dtype=torch.long, pin_memory=cuda)
        done: list[Any] = []  # per queued token: its event (None on other devices, where the copy is synchronous)
        read = 0
        # Inference mode only around device work: a generator must not leave it on while suspended.
        with torch.inference_mode():
            cache = self._static_cache(length + limit)
            step = self._step(length + limit)
            logits = self.model(
                input_ids=ids, past_key_values=cache, cache_position=torch.arange(length, device=device)
            ).logits
            token = logits[:, -1:].argmax(-1)
            position = torch.tensor([length], device=device)
        for index in range(limit):
            with torch.inference_mode():
                if index:
                    token = step(token, position).clone()  # a CUDA graph's output is overwritten by its next replay
                    position += 1
                host[index].copy_(token[0, 0], non_blocking=cuda)
                done.append(torch.cuda.Event() if cuda else None)
                if cuda:
                    done[-1].record()
            last = index == limit - 1
            while read <= index and (last or index - read >= READ_AHEAD or done[read] is None or done[read].query()):
                if done[read] is not None:
                    done[read].synchronize()
                value = int(host[read])
                read += 1
                if value in stops:
                    return
                yield value

    def _step(self, length: int) -> Callable[[Any, Any], Any]:
        """Forward one token through the static cache for ``length`` and pick the next greedily.

        Compiled into CUDA graphs on CUDA, once per cache size.
        """
        import torch

        size = _cache_size(length)
        if size not in self._steps:
            model, cache = self.model, self._static_caches[size]  # locals: the compiler traces no locking property

            def step(token: Any, position: Any) -> Any:
                logits = model(input_ids=token, past_key_values=cache, cache_position=position).logits
                return logits[:, -1:].argmax(-1)

            cuda = model.device.type == "cuda"
            self._steps[size] = torch.compile(step, mode="reduce-overhead", fullgraph=True) if cuda else step
        return self._steps[size]

    def _stream_text(self, tokens: Iterator[int]) -> Iterator[str]:
        """Text as tokens arrive, held back while the last token ends inside a multi-byte character."""
        new: list[int] = []
        sent = ""
        for token in tokens:
            new.append(token)
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            if text.endswith("\ufffd") or len(text) <= len(sent):
                continue
            yield text[len(sent) :]
            sent = text

    def _static_cache(self, length: int) -> Any:
        """A reused single-row KV cache of at least ``length`` tokens: a fixed shape compiles once."""
        from transformers import StaticCache

        size = _cache_size(length)
        cache = self._static_caches.get(size)
        if cache is None:
            cache = self._static_caches[size] = StaticCache(config=self.model.config, max_cache_len=size)
        else:
            cache.reset()
        return cache

    def _load(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            started = time.perf_counter()
            device = resolve_device(self.config.device)
            name, resolved = resolve_model(self.config.model, device)
            dtype = resolve_dtype(self.config.dtype, device)
            tokenizer, model = _load_model(resolved, dtype)
            tokenizer.padding_side = "left"
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
            self._tokenizer = tokenizer
            self._model = model.to(device).eval()
            log.info(
                "loaded generator %s on %s (%s) in %.1fs", name, device, dtype, time.perf_counter() - started
            )


def resolve_model(model: str, device: str) -> tuple[str, models.ResolvedModel]:
    """The model's name and where it is; ``auto`` on a GPU without the 1.5B installed falls back to the 0.5B, saying so."""
    if model != "auto":
        return model, models.resolve(model)
    return models.resolve_preferred(auto_model(device), CPU_MODEL)


def _load_model(resolved: models.ResolvedModel, dtype: Any) -> tuple[Any, Any]:
    """Load from the converted cache when there is one; otherwise from the source, converting GGUF once."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if resolved.gguf_file is None:
        return (
            AutoTokenizer.from_pretrained(resolved.location),
            AutoModelForCausalLM.from_pretrained(resolved.location, dtype=dtype),
        )
    converted = resolved.converted_dir
    if not (converted / "config.json").exists():
        log.info("first load of %s: dequantising GGUF and caching it in %s", resolved.gguf_file, converted)
        _convert_gguf(resolved, converted)
    return (
        AutoTokenizer.from_pretrained(converted),
        AutoModelForCausalLM.from_pretrained(converted, dtype=dtype),
    )


def _convert_gguf(resolved: models.ResolvedModel, target: Path) -> None:
    """Save a plain safetensors copy of a GGUF model: a fresh model from its config, with the dequantised weights."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolved.location, gguf_file=resolved.gguf_file)
    loaded = AutoModelForCausalLM.from_pretrained(resolved.location, gguf_file=resolved.gguf_file)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config)
    fresh.load_state_dict(loaded.state_dict())
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    fresh.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    models.replace_dir(staging, target)


def _cache_size(length: int) -> int:
    """The static cache that holds ``length`` tokens: a power of two, at least 1024, so few shapes compile."""
    return 1 << max(10, (length - 1).bit_length())


def _stop_ids(eos_token_id: int | list[int] | None) -> frozenset[int]:
    """The generation config's stop tokens, whichever form it gives them in (none: decode to the limit)."""
    if eos_token_id is None:
        return frozenset()
    return frozenset([eos_token_id] if isinstance(eos_token_id, int) else eos_token_id)
