"""Embeddings from a sentence-transformers model, run locally."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Any, Literal

import numpy as np

from ragkit import models
from ragkit.devices import DtypeName, halving_on_oom, resolve_device, resolve_dtype
from ragkit.embedders import onnx_int8
from ragkit.memo import Memo
from ragkit.stage import StageConfig

log = logging.getLogger(__name__)

# Show a progress bar only when encoding takes long enough to wonder about.
PROGRESS_THRESHOLD = 512

# The model prompts each side uses, looked up in this order: the rules of sentence-transformers'
# ``encode_query`` and ``encode_document``, so vectors match what those methods give.
QUERY_PROMPT_NAMES = ("query",)
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus")

# Model families whose activations overflow float16 (EmbeddingGemma's model card says so): on a
# GPU, ``dtype: auto`` gives them bfloat16 instead.
NO_FLOAT16_MODEL_TYPES = ("gemma",)

# Texts whose content token ids are kept (``_content_ids``): a batch of chunks with the words counted around it.
CONTENT_IDS_KEPT = 32768

BackendName = Literal["auto", "torch", "onnx-int8"]


class SentenceTransformerEmbedder:
    """Normalised embeddings in length-sorted batches bounded by a token budget.

    Sorting by length and filling each batch up to ``max_batch_tokens`` (padded
    length times rows) keeps padding small and the device busy: short chunks go
    in large batches, long ones in small batches. Half precision on a GPU.
    Models that define query and document prompts (EmbeddingGemma) get them
    prepended, as ``encode_query`` / ``encode_document`` would; others embed
    both sides alike.

    ``backend: onnx-int8`` runs an int8 copy of the model through ONNX Runtime
    on the CPU (``ragkit.embedders.onnx_int8``); tokenising, prompts and limits
    stay those of the torch model, so chunks and token counts do not change.
    """

    class Config(StageConfig):
        model: str = "all-MiniLM-L6-v2"
        batch_size: int = 256
        max_batch_tokens: int | Literal["auto"] = "auto"
        device: str = "auto"
        dtype: DtypeName = "auto"
        backend: BackendName = "auto"
        normalize: bool = True
        show_progress: bool = True

    def __init__(self, config: Config):
        self.config = config
        self._model: Any = None
        self._queries: Memo[str, np.ndarray] = Memo(256)
        # Content token ids of the texts counted lately: a chunker's last count of each chunk is the very
        # tokenization the embedding then reuses, so a chunk is tokenized once (words are tiny entries).
        self._content_ids: Memo[str, np.ndarray] = Memo(CONTENT_IDS_KEPT)
        self._session: Any = None  # the ONNX Runtime session, with backend onnx-int8

    def warm_up(self) -> None:
        self.model  # the property loads it

    @property
    def model(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            resolved = models.resolve(self.config.model)
            if self._backend == "onnx-int8":
                self._model = self._load_onnx(resolved)
                return self._model
            device = resolve_device(self.config.device)
            no_float16 = self.config.dtype == "auto" and device != "cpu" and _overflows_float16(resolved.location)
            dtype = resolve_dtype(self.config.dtype, device, gpu_default="bfloat16" if no_float16 else "float16")
            log.info("loading embedder %s on %s (%s)", self.config.model, device, dtype)
            self._model = SentenceTransformer(resolved.location, device=device, model_kwargs={"dtype": dtype})
            self._model.eval()
        return self._model

    def _load_onnx(self, resolved: models.ResolvedModel) -> Any:
        """The float32 torch model on the CPU, for its tokenizer, prompts and limits, and the int8 session that embeds."""
        import torch
        from sentence_transformers import SentenceTransformer

        if self.config.device not in ("auto", "cpu"):
            log.info("embedder backend onnx-int8 runs on the CPU, not on %s", self.config.device)
        log.info("loading embedder %s on cpu (onnx-int8)", self.config.model)
        # Eager attention traces to the graph that ONNX Runtime fuses; this model only tokenises and exports.
        kwargs = {"dtype": torch.float32, "attn_implementation": "eager"}
        model = SentenceTransformer(resolved.location, device="cpu", model_kwargs=kwargs)
        model.eval()
        self._session = onnx_int8.load(model, resolved.cache_subdir(onnx_int8.CACHE_SUBDIR))
        return model

    @cached_property
    def _backend(self) -> Literal["torch", "onnx-int8"]:
        """What embeds: ``auto`` is torch (see the README's figures); onnx-int8 without its packages falls back to torch, saying so."""
        if self.config.backend != "onnx-int8":
            return "torch"
        missing = onnx_int8.missing_package()
        if missing is not None:
            log.warning(
                "embedder backend onnx-int8 needs the package %s, which is not installed (%s); embedding with torch instead",
                missing,
                onnx_int8.INSTALL,
            )
            return "torch"
        return "onnx-int8"

    @property
    def fingerprint(self) -> str:
        """The int8 model's vectors differ from the float ones (cosine about 0.99), so a store must be rebuilt to switch."""
        base = f"sentence-transformers:{self.config.model}:normalize={self.config.normalize}"
        return base if self._backend == "torch" else f"{base}:backend={self._backend}"

    @property
    def max_tokens(self) -> int:
        """Content tokens that fit before the model truncates: its limit minus special tokens and the document prompt."""
        tokenizer = self.model.tokenizer
        special = tokenizer.num_special_tokens_to_add(pair=False)
        prompt = self.count_tokens([self._prompt(DOCUMENT_PROMPT_NAMES)])[0]
        return int(self.model.max_seq_length) - special - prompt

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self._content(texts)]

    def _content(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Each text's token ids without special tokens, tokenized only if not among the latest ones."""
        if not texts:
            return []

        def tokenize(missing: list[str]) -> list[np.ndarray]:
            # Counting may see texts longer than the model takes: that is the point, not a warning.
            encoded = self.model.tokenizer(missing, add_special_tokens=False, verbose=False)["input_ids"]
            return [np.asarray(ids, dtype=np.int32) for ids in encoded]

        return self._content_ids.get_many(list(texts), tokenize)

    @cached_property
    def _special_ids(self) -> tuple[list[int], list[int]] | None:
        """The ids tokenizing adds before and after a text's own ([CLS] and [SEP]), found once on a sample;
        None when the text's own ids do not appear whole among them, so that adding them would not be exact."""
        tokenizer = self.model.tokenizer
        sample = "Composed ids: the same 2 tokens?"
        content = tokenizer(sample, add_special_tokens=False)["input_ids"]
        whole = tokenizer(sample)["input_ids"]
        for start in range(len(whole) - len(content) + 1):
            if whole[start : start + len(content)] == content:
                return whole[:start], whole[start + len(content) :]
        return None

    def _token_ids(self, texts: list[str], prompt: str) -> list[list[int]]:
        """What the model reads for each text: its counted ids between the special ones, else tokenized anew."""
        model = self.model
        special = self._special_ids
        if prompt or special is None:  # tokenized with the prompt, so lengths and truncation are the model's
            prompted = [prompt + text for text in texts] if prompt else texts
            return model.tokenizer(prompted, truncation=True, max_length=model.max_seq_length)["input_ids"]
        before, after = special
        limit = model.max_seq_length - len(before) - len(after)
        return [[*before, *ids[:limit].tolist(), *after] for ids in self._content(texts)]

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(list(texts), self._prompt(DOCUMENT_PROMPT_NAMES))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Each question embedded once: retrieval and then compression ask for the same question's vector."""
        if not texts:
            return self._encode([], "")
        prompt = self._prompt(QUERY_PROMPT_NAMES)
        return np.stack(self._queries.get_many(list(texts), lambda missing: list(self._encode(missing, prompt))))

    def _prompt(self, names: tuple[str, ...]) -> str:
        """The model's prompt for one side: the first of ``names`` it defines, else its default prompt, else none."""
        model = self.model
        name = next((name for name in names if name in model.prompts), model.default_prompt_name)
        return (model.prompts.get(name) or "") if name else ""

    def _encode(self, texts: list[str], prompt: str) -> np.ndarray:
        import torch
        from tqdm import tqdm

        model = self.model
        dimension = model.get_embedding_dimension()
        if not texts:
            return np.zeros((0, dimension), dtype=np.float32)
        token_ids = self._token_ids(texts, prompt)
        order = sorted(range(len(texts)), key=lambda index: len(token_ids[index]), reverse=True)
        output = torch.empty((len(texts), dimension), dtype=torch.float32)
        # A bar only on a terminal (None), so logs stay clean; TQDM_DISABLE is how `--quiet` silences every bar.
        show = self.config.show_progress and len(texts) >= PROGRESS_THRESHOLD and not os.environ.get("TQDM_DISABLE")
        with torch.inference_mode(), tqdm(total=len(texts), desc="embedding", unit="chunk", disable=None if show else True) as bar:
            for rows in _batches(order, token_ids, self.config.batch_size, self._max_batch_tokens):
                vectors = halving_on_oom(lambda part: self._forward([token_ids[i] for i in part]), rows, "embedding")
                output[torch.as_tensor(rows)] = vectors
                bar.update(len(rows))
        return output.numpy()

    @property
    def _max_batch_tokens(self) -> int:
        """``auto``: large batches keep a GPU busy; on a CPU small ones stay in cache and ran faster here."""
        if self.config.max_batch_tokens == "auto":
            return 2048 if self.model.device.type == "cpu" else 16384
        return self.config.max_batch_tokens

    def _forward(self, batch_ids: list[list[int]]) -> Any:
        """One padded batch through the model; pinned host memory lets the copy to the GPU overlap."""
        import torch

        model = self.model
        tokenizer = model.tokenizer
        longest = max(len(ids) for ids in batch_ids)
        input_ids = np.full((len(batch_ids), longest), tokenizer.pad_token_id, dtype=np.int64)
        attention = np.zeros((len(batch_ids), longest), dtype=np.int64)
        for row, ids in enumerate(batch_ids):
            input_ids[row, : len(ids)] = ids
            attention[row, : len(ids)] = 1
        arrays = {"input_ids": input_ids, "attention_mask": attention}
        if "token_type_ids" in tokenizer.model_input_names:
            arrays["token_type_ids"] = np.zeros_like(input_ids)
        if self._session is not None:
            embeddings = torch.from_numpy(onnx_int8.run(self._session, arrays))
        else:
            features = {key: torch.from_numpy(value) for key, value in arrays.items()}
            if model.device.type == "cuda":
                features = {key: value.pin_memory().to(model.device, non_blocking=True) for key, value in features.items()}
            embeddings = model(features)["sentence_embedding"].float()
        if self.config.normalize:
            embeddings = torch.nn.functional.normalize(embeddings, dim=-1)
        return embeddings.cpu()


def _overflows_float16(location: str) -> bool:
    """Whether the model's architecture is one that must not run in float16 (read from its config.json)."""
    from transformers import AutoConfig

    model_type = AutoConfig.from_pretrained(location).model_type
    return model_type.startswith(NO_FLOAT16_MODEL_TYPES)


def _batches(order: list[int], token_ids: list[list[int]], max_rows: int, max_tokens: int) -> Iterator[list[int]]:
    """Consecutive runs of ``order`` (longest first) whose padded size stays within ``max_tokens``."""
    batch: list[int] = []
    for index in order:
        longest = len(token_ids[batch[0]]) if batch else len(token_ids[index])
        if batch and (len(batch) >= max_rows or longest * (len(batch) + 1) > max_tokens):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch
