"""A conversation: follow-up questions answered with the earlier turns in mind.

``RAG.chat()`` returns a ``Conversation``. Each question is first made to
stand alone for retrieval (``ConversationConfig.rewrite``; a question that
already does is retrieved as asked), then answered like ``RAG.ask`` answers,
with the earlier turns in the prompt between the instructions and the
passages, so the model reads "and its CPU?" as the user meant it. The answer
is ``ask``'s ``Answer``, with ``query`` the text retrieved for. The history is
bounded by the augmenter's prompt budget, counted with the generator's
tokenizer: the oldest turns go first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ragkit.answering import TokenStream
from ragkit.followups import concatenated, fuse, parse_rewrite, rewrite_messages, stands_alone
from ragkit.generators.base import Messages
from ragkit.query import Query
from ragkit.settings import ConversationConfig
from ragkit.timing import timed
from ragkit.types import Answer, Hit, Prompt, Where


@dataclass
class Turn:
    """One exchange: the question as asked, the answer's text, and what was retrieved for it."""

    question: str
    answer: str
    query: str = ""

    def __post_init__(self) -> None:
        if not self.query:
            self.query = self.question

    def messages(self) -> Messages:
        return [{"role": "user", "content": self.question}, {"role": "assistant", "content": self.answer}]


def with_history(messages: Messages, turns: Sequence[Turn]) -> Messages:
    """The prompt's messages with the turns before its last one (after the system message, when it has one)."""
    head = 1 if messages and messages[0]["role"] == "system" else 0
    earlier = [message for turn in turns for message in turn.messages()]
    return [*messages[:head], *earlier, *messages[head:]]


def fit_history(turns: Sequence[Turn], messages: Messages, count: Callable[[Messages], int], budget: int) -> list[Turn]:
    """The most recent turns that, with ``messages``, fit ``budget`` tokens: the oldest are dropped first."""
    kept = list(turns)
    while kept and count(with_history(messages, kept)) > budget:
        kept.pop(0)
    return kept


class Conversation:
    """Questions that may refer to earlier ones: ``ask``, ``stream``, ``history``, ``reset``."""

    def __init__(self, query: Query, settings: ConversationConfig, budget: int, history: Sequence[Turn] = ()):
        self.query, self.settings, self.budget = query, settings, budget
        self.history: list[Turn] = []
        for turn in history:
            self._remember(turn)

    def reset(self) -> None:
        """Forget the earlier turns: the next question starts a new conversation."""
        self.history = []

    def standalone(self, question: str, k: int | None = None, where: Where | None = None) -> tuple[str, list[Hit]]:
        """What ``question`` is retrieved for, and its passages: as asked when it stands alone or starts the
        conversation, else as ``rewrite`` says (the rewrite, the concatenation, or two rankings fused)."""
        strategy = self.settings.rewrite
        if not self.history or strategy == "none" or stands_alone(question):
            return question, self._retrieve([question], k, where)
        recent = self.history[-self.settings.turns :]
        concat = concatenated(question, [turn.question for turn in recent])
        if strategy == "concat":
            return concat, self._retrieve([concat], k, where)
        if strategy == "blend":
            return concat, self._retrieve([question, concat], k, where)
        rewritten = self.rewrite(question, recent) or concat
        if strategy == "generator" or rewritten == concat:
            return rewritten, self._retrieve([rewritten], k, where)
        return rewritten, self._retrieve([rewritten, concat], k, where)

    def _retrieve(self, queries: list[str], k: int | None, where: Where | None) -> list[Hit]:
        """One query's passages, or several queries' rankings fused by reciprocal rank."""
        rankings = self.query.retrieve_many(queries, k, where)
        return rankings[0] if len(rankings) == 1 else fuse(rankings, k or self.query.top_k)

    def rewrite(self, question: str, turns: Sequence[Turn]) -> str:
        """The generator's standalone form of ``question`` (its reply's first line; "" when it gave none).

        Generated whole, not streamed and cut at the first line: a stream abandoned half-way would go on
        generating on a thread of its own in the transformers generator, beside the next job.
        """
        reply = self.query.generator.generate(rewrite_messages(question, [(turn.question, turn.answer) for turn in turns]))
        return parse_rewrite(reply)

    def ask(self, question: str, k: int | None = None, where: Where | None = None) -> Answer:
        """Answer ``question`` in the light of the earlier turns, and remember the turn."""
        timings: dict[str, float] = {}
        with timed(timings, "retrieve"):
            retrieved_for, hits = self.standalone(question, k, where)
        [answer] = self.query.answerer.answer_many([question], [self.prompt(question, hits)])
        answer.timings = {**timings, **answer.timings}
        self._finish(retrieved_for, answer)
        return answer

    def stream(self, question: str, k: int | None = None, where: Where | None = None) -> TokenStream:
        """Like ``ask``, token by token; the turn is remembered once the stream is exhausted."""
        retrieved_for, hits = self.standalone(question, k, where)
        stream = self.query.answerer.stream(question, self.prompt(question, hits))
        stream.on_answer = lambda answer: self._finish(retrieved_for, answer)
        return stream

    def prompt(self, question: str, hits: list[Hit]) -> Prompt:
        """``ask``'s prompt, with as many of the latest turns as fit the budget before the question."""
        prompt = self.query.prompt(question, hits)
        turns = fit_history(self.history, prompt.messages, self.query.generator.count_prompt_tokens, self.budget)
        return Prompt(with_history(prompt.messages, turns), prompt.passages, prompt.dropped)

    def _finish(self, retrieved_for: str, answer: Answer) -> None:
        answer.query = retrieved_for
        self._remember(Turn(answer.question, answer.text, retrieved_for))

    def _remember(self, turn: Turn) -> None:
        self.history = fit_history([*self.history, turn], [], self.query.generator.count_prompt_tokens, self.budget)
