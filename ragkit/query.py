"""Answering questions: retrieve (and rerank), build the prompt, generate, check the reply against the passages.

``RAG`` hands each question here; ``ragkit.answering`` checks and repairs
replies, ``ragkit.grounding`` finds the citations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ragkit.answering import Answerer, TokenStream
from ragkit.augmenters.base import Augmenter
from ragkit.compression import compress
from ragkit.settings import AnswerConfig
from ragkit.embedders.base import Embedder
from ragkit.generators.base import Generator
from ragkit.neighbours import widen
from ragkit.rerankers.base import Reranker
from ragkit.retrievers.base import Retriever
from ragkit.stores.base import VectorStore
from ragkit.timing import timed
from ragkit.types import Answer, Hit, Prompt, Where


class Query:
    """The query side of a pipeline; ``before_search`` runs before each search (the keyword index's check)."""

    def __init__(
        self,
        retriever: Retriever,
        reranker: Reranker | None,
        store: VectorStore,
        embedder: Embedder,
        augmenter: Augmenter,
        generator: Generator,
        settings: AnswerConfig,
        before_search: Callable[[], None],
    ):
        self.retriever, self.reranker, self.store, self.embedder = retriever, reranker, store, embedder
        self.augmenter, self.generator, self.settings = augmenter, generator, settings
        self.answerer = Answerer(generator, settings)
        self.before_search = before_search

    @property
    def top_k(self) -> int:
        return self.retriever.top_k

    def retrieve_many(self, questions: Sequence[str], k: int | None, where: Where | None) -> list[list[Hit]]:
        """Scored chunks for each question, batched; with a reranker, its ``candidates`` reranked down to ``k``."""
        self.before_search()
        if self.reranker is None:
            return self.retriever.retrieve(questions, k, where)
        keep = k or self.top_k
        found = self.retriever.retrieve(questions, max(keep, self.reranker.candidates), where)
        return self.reranker.rerank(questions, found, keep)

    def ask_many(self, questions: Sequence[str], k: int | None, where: Where | None) -> list[Answer]:
        timings: dict[str, float] = {}
        with timed(timings, "retrieve"):
            hits = self.retrieve_many(questions, k, where)
        answers = self.answer_many(questions, hits)
        for answer in answers:
            answer.timings = {"retrieve": timings["retrieve"] / len(questions), **answer.timings}
        return answers

    def answer_many(self, questions: Sequence[str], hits: Sequence[list[Hit]]) -> list[Answer]:
        timings: dict[str, float] = {}
        with timed(timings, "augment"):
            prompts = [self.prompt(question, found) for question, found in zip(questions, hits)]
        with timed(timings, "generate"):
            answers = self.answerer.answer_many(questions, prompts)
        for answer in answers:
            answer.timings = {name: seconds / len(questions) for name, seconds in timings.items()}
        return answers

    def stream(self, question: str, k: int | None, where: Where | None) -> TokenStream:
        [hits] = self.retrieve_many([question], k, where)
        return self.answerer.stream(question, self.prompt(question, hits))

    def prompt(self, question: str, hits: list[Hit]) -> Prompt:
        """The prompt for ``question``: its passages widened by their neighbours, then cut to the sentences closest
        to it, where configured; then the augmenter's."""
        widened = widen(hits, self.store, self.settings.neighbours)
        passages = compress(question, widened, self.embedder, self.settings.sentences, self.settings.whole_passages)
        return self.augmenter.build(question, passages)
