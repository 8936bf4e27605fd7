"""The pipeline: the one place where stages meet.

``RAG`` builds every stage from a validated ``PipelineConfig`` and hands each
one what it needs (the embedder to the chunker and retriever, the store to the
retriever, the generator to the augmenter). Building is cheap; models load on
first use.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragkit import registry
from ragkit.augmenters.base import Augmenter
from ragkit.chunkers.base import Chunker
from ragkit.config import PipelineConfig, deep_merge, load_config, load_yaml
from ragkit.embedders.base import Embedder
from ragkit.generators.base import Generator
from ragkit.loaders.base import LoadError, Loader
from ragkit.loaders.walker import walk
from ragkit.retrievers.base import Retriever
from ragkit.stores.base import VectorStore, Where
from ragkit.types import Answer, Chunk, Hit, IngestReport, Skipped

log = logging.getLogger(__name__)

NO_ANSWER = "The documents do not contain an answer to this question."

# Chunks gathered from several files before one embedding call: large enough
# to batch well, small enough that a crash loses little work.
EMBED_BATCH_CHUNKS = 512


@dataclass
class TokenStream:
    """What ``RAG.stream`` returns: iterate it for tokens; ``sources`` and ``prompt`` are known up front."""

    question: str
    sources: list[Hit]
    prompt: str
    tokens: Iterator[str]
    text: str = field(default="", init=False)

    def __iter__(self) -> Iterator[str]:
        for token in self.tokens:
            self.text += token
            yield token


class RAG:
    """Ingest folders into a vector store and answer questions from them with a local model."""

    def __init__(self, config: PipelineConfig):
        self.config = config
        stage_configs = config.stage_configs()
        self.loaders: list[Loader] = [
            registry.get("loader", name)(loader_config) for name, loader_config in config.loader_configs()
        ]
        self.embedder: Embedder = _build("embedder", config, stage_configs)
        self.store: VectorStore = _build("store", config, stage_configs)
        self.generator: Generator = _build("generator", config, stage_configs)
        self.chunker: Chunker = _build("chunker", config, stage_configs, counter=self.embedder)
        self.retriever: Retriever = _build(
            "retriever", config, stage_configs, embedder=self.embedder, store=self.store
        )
        self.augmenter: Augmenter = _build("augmenter", config, stage_configs, counter=self.generator)
        self._by_extension = {ext: loader for loader in self.loaders for ext in loader.extensions}

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> "RAG":
        """Build from a pipeline file; ``overrides`` is merged over it (e.g. ``{"store": {"path": ...}}``)."""
        return cls(load_yaml(path, overrides))

    @classmethod
    def from_dict(cls, data: dict[str, Any], overrides: dict[str, Any] | None = None) -> "RAG":
        return cls(load_config(deep_merge(data, overrides or {})))

    # ingestion ---------------------------------------------------------------

    def ingest(self, path: str | Path, *, progress: bool | None = None) -> IngestReport:
        """Load, chunk, embed and store every supported file under ``path`` (a folder or one file).

        A file that cannot be read is skipped with its reason; nothing aborts the run.
        Chunks of a file that changed since the last ingest are replaced, not duplicated.
        """
        from tqdm import tqdm

        started = time.perf_counter()
        root = Path(path)
        loading = self.config.loading
        files = list(walk(root, loading.include, loading.exclude, loading.follow_symlinks))
        report = IngestReport(files_seen=len(files))
        show = sys.stderr.isatty() if progress is None else progress
        pending: list[tuple[str, list[Chunk]]] = []
        for file_path, source in tqdm(files, desc="ingesting", unit="file", disable=not show):
            chunks = self._load_and_chunk(file_path, source, report)
            if chunks is None:
                continue
            pending.append((source, chunks))
            if sum(len(c) for _, c in pending) >= EMBED_BATCH_CHUNKS:
                self._write(pending, report)
                pending = []
        self._write(pending, report)
        report.seconds = time.perf_counter() - started
        for skipped in report.skipped:
            log.warning("skipped %s: %s", skipped.path, skipped.reason)
        return report

    def _load_and_chunk(self, file_path: Path, source: str, report: IngestReport) -> list[Chunk] | None:
        loader = self._by_extension.get(file_path.suffix.lower())
        if loader is None:
            report.skipped.append(Skipped(source, f"unsupported file type {file_path.suffix or '(none)'!r}"))
            return None
        try:
            documents = loader.load(file_path, source)
        except LoadError as exc:
            report.skipped.append(Skipped(source, str(exc)))
            return None
        except Exception as exc:  # a loader bug must not abort a whole folder
            report.skipped.append(Skipped(source, f"{type(exc).__name__}: {exc}"))
            return None
        chunks = [chunk for document in documents for chunk in self.chunker.chunk(document)]
        if not chunks:
            report.skipped.append(Skipped(source, "no text to index"))
            return None
        report.files_loaded += 1
        report.documents += len(documents)
        return chunks

    def _write(self, pending: list[tuple[str, list[Chunk]]], report: IngestReport) -> None:
        """Embed and upsert a batch of files, then drop chunks those files no longer have."""
        chunks = [chunk for _, file_chunks in pending for chunk in file_chunks]
        if not chunks:
            return
        self.store.upsert(chunks, self.embedder.embed_documents([chunk.text for chunk in chunks]))
        report.chunks_written += len(chunks)
        for source, file_chunks in pending:
            current = {chunk.id for chunk in file_chunks}
            stale = [chunk_id for chunk_id in self.store.ids({"source": source}) if chunk_id not in current]
            self.store.delete(stale)
            report.chunks_removed += len(stale)

    # querying ----------------------------------------------------------------

    def retrieve(self, question: str, k: int | None = None, where: Where | None = None) -> list[Hit]:
        """Scored chunks for ``question``, best first, without generating."""
        return self.retriever.retrieve([question], k, where)[0]

    def ask(self, question: str, k: int | None = None, where: Where | None = None) -> Answer:
        """Answer one question from the retrieved passages."""
        return self.ask_many([question], k, where)[0]

    def ask_many(self, questions: Sequence[str], k: int | None = None, where: Where | None = None) -> list[Answer]:
        """Answer many questions; the generator runs them in batches."""
        timings: dict[str, float] = {}
        with _timed(timings, "retrieve"):
            hits = self.retriever.retrieve(questions, k, where)
        with _timed(timings, "augment"):
            prompts = [self.augmenter.build(question, found) for question, found in zip(questions, hits)]
        answerable = [index for index, prompt in enumerate(prompts) if prompt.passages]
        with _timed(timings, "generate"):
            generated = self.generator.generate_batch([prompts[index].messages for index in answerable])
        texts = dict(zip(answerable, generated))
        return [
            Answer(
                question=question,
                text=texts.get(index, NO_ANSWER),
                sources=prompt.passages,
                prompt=self.generator.render(prompt.messages) if prompt.passages else "",
                timings={name: seconds / len(questions) for name, seconds in timings.items()},
            )
            for index, (question, prompt) in enumerate(zip(questions, prompts))
        ]

    def stream(self, question: str, k: int | None = None, where: Where | None = None) -> TokenStream:
        """Like ``ask``, but the answer arrives token by token."""
        prompt = self.augmenter.build(question, self.retrieve(question, k, where))
        if not prompt.passages:
            return TokenStream(question, [], "", iter([NO_ANSWER]))
        return TokenStream(
            question,
            prompt.passages,
            self.generator.render(prompt.messages),
            self.generator.stream(prompt.messages),
        )

    def stats(self) -> dict[str, Any]:
        """Chunk, document and file counts of the store."""
        return self.store.stats()


def _build(kind: str, config: PipelineConfig, stage_configs: dict[str, Any], **dependencies: Any) -> Any:
    spec = getattr(config, kind)
    return registry.get(kind, spec.type)(stage_configs[kind], **dependencies)


class _timed:
    """Adds the seconds spent in a ``with`` block to ``timings[name]``."""

    def __init__(self, timings: dict[str, float], name: str):
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.started
