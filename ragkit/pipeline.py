"""The pipeline: the one place where stages meet.

``RAG`` builds every stage from a validated ``PipelineConfig`` and hands each
one what it needs (the embedder to the chunker and retriever, the store and the
keyword index to the retriever, a path next to the store to the index, the
generator to the augmenter). Building is cheap; models load on first use or in
``warm_up``. Ingesting is ``ragkit.ingest``'s job, answering ``ragkit.query``'s;
``RAG`` wires them and delegates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ragkit import registry
from ragkit.answering import TokenStream
from ragkit.building import build_stage, checked, ingest_stages
from ragkit.augmenters.base import Augmenter, PromptCounter
from ragkit.chunkers.base import Chunker, TokenCounter
from ragkit.config import PipelineConfig, deep_merge, load_config, load_yaml
from ragkit.conversation import Conversation, Turn
from ragkit.embedders.base import Embedder
from ragkit.evaluation import EvalQuestion, EvalReport, evaluate
from ragkit.generators.base import Generator
from ragkit.indexes.base import KeywordIndex
from ragkit.ingest.collection import Collection
from ragkit.ingest.state import INDEX, StateFiles
from ragkit.ingest.sync import Ingestor
from ragkit.loaders.base import Loader
from ragkit.query import Query
from ragkit.rerankers.base import Reranker
from ragkit.retrievers.base import Retriever
from ragkit.stores.base import VectorStore
from ragkit.types import Answer, Hit, IngestReport, Where, content_hash

# The history's budget with an augmenter that has no ``max_prompt_tokens``: the template augmenter's default.
DEFAULT_HISTORY_TOKENS = 2048


class RAG:
    """Ingest folders into a vector store and answer questions from them with a local model."""

    def __init__(self, config: PipelineConfig):
        self.config = config
        stage_configs = self._stage_configs = config.stage_configs()
        loader_specs = [(registry.get("loader", name), loader_config) for name, loader_config in config.loader_configs()]
        loaders: list[Loader] = [checked(cls(loader_config), "loader") for cls, loader_config in loader_specs]
        # What the pipeline has built so far, by the type a stage's constructor asks for it by.
        provided: dict[Any, Any] = {}
        build = partial(build_stage, config=config, stage_configs=stage_configs, provided=provided)
        self.embedder: Embedder = build("embedder")
        self.store: VectorStore = build("store")
        provided.update({Embedder: self.embedder, TokenCounter: self.embedder, VectorStore: self.store})
        self.state = StateFiles.of(config.state, self.store)  # where the manifest, lock and keyword index live
        self.index: KeywordIndex | None = None
        if config.index is not None:
            provided[Path] = self.state.path(INDEX.format(type=config.index.type))
            self.index = build("index")
        self.generator: Generator = build("generator")
        provided.update({KeywordIndex: self.index, Generator: self.generator, PromptCounter: self.generator})
        self.chunker: Chunker = build("chunker")
        self.retriever: Retriever = build("retriever")
        self.reranker: Reranker | None = build("reranker") if config.reranker is not None else None
        self.augmenter: Augmenter = build("augmenter")
        self.ingestor = Ingestor(
            config.loading, loaders, loader_specs, self.chunker, self.embedder, self.store,
            Collection(self.store, self.index), self.ingest_fingerprint, self.state, partial(ingest_stages, config),
        )
        self.query = Query(
            self.retriever, self.reranker, self.store, self.embedder, self.augmenter, self.generator,
            config.answer, self.ingestor.check_index,
        )

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> "RAG":
        """Build from a pipeline file; ``overrides`` is merged over it (e.g. ``{"store": {"path": ...}}``)."""
        return cls(load_yaml(path, overrides))

    @classmethod
    def from_dict(cls, data: dict[str, Any], overrides: dict[str, Any] | None = None) -> "RAG":
        return cls(load_config(deep_merge(data, overrides or {})))

    @property
    def loaders(self) -> list[Loader]:
        return self.ingestor.loaders

    # ingestion ---------------------------------------------------------------

    def ingest(
        self,
        path: str | Path,
        *,
        prune: bool = True,
        rebuild: bool = False,
        dry_run: bool = False,
        progress: bool | None = None,
    ) -> IngestReport:
        """Make the store mirror ``path`` (a folder, recursively, or one file) and say what changed.

        New files are added, changed ones replace their chunks, unchanged ones are
        skipped without loading; for a folder, files gone from it are deleted
        (``prune``). A file that cannot be read is reported with its reason;
        nothing aborts the run. ``rebuild`` drops every chunk first, which is
        required once the chunker, embedder or loader settings have changed.
        ``dry_run`` reports what would change and writes nothing. ``progress``:
        a bar (True), nothing (False), or a bar on a terminal and a log line
        every few seconds elsewhere (None).
        """
        return self.ingestor.ingest(path, prune=prune, rebuild=rebuild, dry_run=dry_run, progress=progress)

    def hold_store(self, server: str) -> None:
        """Hold the store's lock from now until ``release_store``: what ``ragkit serve`` at ``server`` does.

        Only for a single-process store (embedded Chroma), whose open client would
        never see another process's writes: an ingest from elsewhere is refused,
        with a message naming ``server``, instead of leaving this one silently stale.
        This process's own ingests (``POST /v1/ingest``) go on under the held lock.
        """
        self.ingestor.hold_store(server)

    def release_store(self) -> None:
        """Let other processes write to the store again (see ``hold_store``)."""
        self.ingestor.release_store()

    def ingest_fingerprint(self) -> str:
        """Identifies the settings that shape chunks and vectors; a store built with others must be rebuilt."""
        settings = {
            "chunker": [self.config.chunker.type, self._stage_configs["chunker"].model_dump(mode="json")],
            "embedder": self.embedder.fingerprint,
            "loaders": [[name, config.model_dump(mode="json")] for name, config in self.config.loader_configs()],
        }
        return content_hash(json.dumps(settings, sort_keys=True))

    # querying ----------------------------------------------------------------

    def retrieve(self, question: str, k: int | None = None, where: Where | None = None) -> list[Hit]:
        """Scored chunks for ``question``, best first, without generating."""
        return self.retrieve_many([question], k, where)[0]

    def retrieve_many(
        self, questions: Sequence[str], k: int | None = None, where: Where | None = None
    ) -> list[list[Hit]]:
        """Scored chunks for each question, batched (one embedding call, one store query); with a reranker,
        its ``candidates`` reranked down to ``k``."""
        return self.query.retrieve_many(questions, k, where)

    def ask(self, question: str, k: int | None = None, where: Where | None = None) -> Answer:
        """Answer one question from the retrieved passages."""
        return self.ask_many([question], k, where)[0]

    def ask_many(self, questions: Sequence[str], k: int | None = None, where: Where | None = None) -> list[Answer]:
        """Answer many questions; the generator runs them in batches (``ragkit.answering`` checks each reply).

        A question that no passage reaches the prompt for (nothing retrieved, or
        nothing above the retriever's threshold) is answered with ``NO_ANSWER``
        and ``abstained=True``, without calling the generator.
        """
        return self.query.ask_many(questions, k, where)

    def answer_many(self, questions: Sequence[str], hits: Sequence[list[Hit]]) -> list[Answer]:
        """Answer questions from passages already retrieved for them (as ``retrieve_many`` returns them)."""
        return self.query.answer_many(questions, hits)

    def stream(self, question: str, k: int | None = None, where: Where | None = None) -> TokenStream:
        """Like ``ask``, but the answer arrives token by token; ``stream.answer`` is ``ask``'s answer once it ends."""
        return self.query.stream(question, k, where)

    def chat(self, history: Sequence[tuple[str, str]] = ()) -> Conversation:
        """A conversation: each follow-up is made standalone before retrieval, as ``conversation:`` says, and
        answered with the earlier turns in the prompt; ``history``: earlier (question, answer) turns, oldest first."""
        budget = getattr(self._stage_configs["augmenter"], "max_prompt_tokens", DEFAULT_HISTORY_TOKENS)
        return Conversation(self.query, self.config.conversation, budget, [Turn(q, a) for q, a in history])

    @property
    def top_k(self) -> int:
        """How many passages a question is answered from."""
        return self.query.top_k

    def warm_up(self, generate: bool = True) -> None:
        """Load what a question needs (the embedder, the store, the keyword index, the reranker; the generator
        too) now rather than on the first question: each stage's ``warm_up``, where it has one. A second call
        costs nothing."""
        stages = [self.embedder, self.store, self.index, self.reranker, self.generator if generate else None]
        for stage in stages:
            if (warm_up := getattr(stage, "warm_up", None)) is not None:
                warm_up()
        self.ingestor.check_index()

    def evaluate(
        self,
        questions: str | Path | Iterable[EvalQuestion | dict[str, Any]],
        k: int = 10,
        *,
        generate: bool = True,
        where: Where | None = None,
        progress: bool | None = None,
    ) -> EvalReport:
        """Score this pipeline on a question set (a JSON Lines file, or questions): hit@k, MRR, answers, abstention.

        ``generate=False`` scores retrieval only, which is fast; the rules are in ``ragkit.evaluation``.
        """
        return evaluate(self, questions, k=k, generate=generate, where=where, progress=progress)

    def stats(self) -> dict[str, Any]:
        """Chunk, document and file counts of the store, and where it is."""
        return self.ingestor.stats()
