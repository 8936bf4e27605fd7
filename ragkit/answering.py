"""From a prompt to an answer that can be trusted: generate, repair a degenerate reply, ground it, or abstain.

The generator's reply is not the answer yet. A small model sometimes writes
nothing but ``[1]``, copies a heading, or says the question back: such a reply
is *degenerate* (``ragkit.grounding``) and is generated once more, with the
reply shown back to the model and a request for one complete sentence; if that
is degenerate too, the answer is an abstention (extracting the passage sentence
closest to the question was right 1 time in 9 on the English dev half). Then each sentence is checked against the passages: the passages
that support it become the citations, and an answer the passages do not
support, or a reply saying the passages do not answer, becomes an abstention.
``ask``, ``stream``, the CLI and the HTTP API all end here, so they return the
same ``Answer``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from ragkit.citations import strip_citations
from ragkit.settings import AnswerConfig
from ragkit.generators.base import Generator, Messages
from ragkit.grounding import degenerate_reason, ground, is_fragment, is_refusal, keeps_value, missing_identifiers
from ragkit.language import is_chinese
from ragkit.types import Answer, Citation, Hit, Prompt

NO_ANSWER = "The documents do not contain an answer to this question."
NO_ANSWER_ZH = "文档中没有这个问题的答案。"

# Sent after a degenerate reply. Naming what went wrong and asking for the fact in a whole sentence
# is what the regeneration needs; the request for passage numbers is left out, since a reply of
# nothing but numbers is the usual failure (citations come from grounding anyway).
RETRY_REQUEST = "That reply does not answer the question. Answer it in one complete sentence that states the answer itself."
RETRY_REQUEST_ZH = "这个回复没有回答问题。请用一句完整的中文句子直接说出答案。"
# Sent after a bare value ("10", "`prune`"): the same answer, said as a sentence that names what it is.
COMPLETE_REQUEST = "Say that again as one complete sentence that also names what the question asks about."
COMPLETE_REQUEST_ZH = "请把这个回答写成一句完整的中文句子。"
REQUESTS = {"degenerate": (RETRY_REQUEST, RETRY_REQUEST_ZH), "fragment": (COMPLETE_REQUEST, COMPLETE_REQUEST_ZH)}

# A streamed reply is held back until it is this long, so a degenerate one (``[1]``, a heading) can
# still be replaced before anything reaches the reader.
HOLD_CHARS = 80

def no_answer(question: str) -> str:
    """The abstention text, in the question's language."""
    return NO_ANSWER_ZH if is_chinese(question) else NO_ANSWER


def retry_messages(messages: Messages, reply: str, question: str, kind: str) -> Messages:
    """The conversation so far, the reply shown back, and the request for what ``kind`` of reply it was lacks."""
    english, chinese = REQUESTS[kind]
    request = chinese if is_chinese(question) else english
    return [*messages, {"role": "assistant", "content": reply}, {"role": "user", "content": request}]


@dataclass
class Reply:
    """A reply as the model wrote it, and what replaced it if it was degenerate."""

    text: str
    repaired: str | None = None
    draft: str = ""


class Answerer:
    """Turns prompts into ``Answer`` objects with the pipeline's generator and answer settings."""

    def __init__(self, generator: Generator, config: AnswerConfig):
        self.generator = generator
        self.config = config

    def answer_many(self, questions: Sequence[str], prompts: Sequence[Prompt]) -> list[Answer]:
        """Answers for prompts; one its passages cannot answer (``answerable``) abstains without calling the generator."""
        answerable = [index for index, prompt in enumerate(prompts) if self.answerable(questions[index], prompt)]
        replies = dict(zip(answerable, self._replies([questions[i] for i in answerable], [prompts[i] for i in answerable])))
        return [
            self.finish(question, prompt, replies[index]) if index in replies else self.abstention(question, prompt)
            for index, (question, prompt) in enumerate(zip(questions, prompts))
        ]

    def answerable(self, question: str, prompt: Prompt) -> bool:
        """Whether the passages could answer: there are some, and they hold every identifier the question names."""
        if not prompt.passages:
            return False
        return not (self.config.require_identifiers and missing_identifiers(question, prompt.passages))

    def _replies(self, questions: Sequence[str], prompts: Sequence[Prompt]) -> list[Reply]:
        """Generate in batches; regenerate the degenerate replies and the bare values in one more batch."""
        if not prompts:
            return []
        texts = self.generator.generate_batch([prompt.messages for prompt in prompts])
        replies = [Reply(text) for text in texts]
        kinds = {i: kind for i, text in enumerate(texts) if (kind := self.kind(text, questions[i], prompts[i]))}
        if kinds:
            retries = self.generator.generate_batch(
                [retry_messages(prompts[i].messages, texts[i], questions[i], kind) for i, kind in kinds.items()]
            )
            for (i, kind), retry in zip(kinds.items(), retries):
                replies[i] = self.repair(questions[i], prompts[i].passages, texts[i], retry, kind)
        return replies

    def kind(self, text: str, question: str, prompt: Prompt) -> str | None:
        """What the reply needs regenerating for: ``degenerate`` (no answer at all), ``fragment`` (a bare value,
        when ``answer.complete_fragments``), or None."""
        if degenerate_reason(text, question, prompt.passages):
            return "degenerate"
        fragment = self.config.complete_fragments and is_fragment(text) and not is_refusal(text)
        return "fragment" if fragment else None

    def repair(self, question: str, passages: Sequence[Hit], draft: str, retry: str, kind: str) -> Reply:
        """What replaces a reply of ``kind`` (``kind``) given its regeneration.

        A degenerate reply gives way to a regeneration that is not degenerate,
        else to an abstention. A bare value gives way to a sentence only if the
        sentence keeps the value's terms and names (the answer may gain words, not
        change), else it stands.
        """
        if kind == "fragment":
            keeps = not degenerate_reason(retry, question, passages) and keeps_value(draft, retry, question)
            return Reply(retry, "completed", draft) if keeps else Reply(draft)
        if not degenerate_reason(retry, question, passages):
            return Reply(retry, "regenerated", draft)
        return Reply("", "abstained", draft)

    def finish(self, question: str, prompt: Prompt, reply: Reply) -> Answer:
        """Ground a reply; a refusal, an unsupported answer or an empty one becomes an abstention."""
        text = reply.text.strip()
        grounding = ground(text, question, prompt.passages, self.config.min_support)
        refused = not strip_citations(text).strip() or is_refusal(text)
        abstained = refused or (self.config.abstain_unsupported and not grounding.grounded)
        return Answer(
            question=question,
            text=no_answer(question) if abstained else text,
            sources=prompt.passages,
            prompt=self.generator.render(prompt.messages),
            citations=[] if abstained else grounding.citations,
            invalid_citations=grounding.invalid_citations,
            abstained=abstained,
            grounded=grounding.grounded and not refused,
            support=grounding.support,
            repaired=reply.repaired,
            draft=(text or reply.draft) if abstained else reply.draft,
        )

    def abstention(self, question: str, prompt: Prompt) -> Answer:
        """The passages cannot answer (none, or none names what the question does): the generator is not called."""
        return Answer(question=question, text=no_answer(question), sources=prompt.passages, prompt="", abstained=True)

    def stream(self, question: str, prompt: Prompt) -> "TokenStream":
        if not self.answerable(question, prompt):
            return TokenStream(self, question, prompt, iter(()), answerable=False)
        return TokenStream(self, question, prompt, self.generator.stream(prompt.messages))


@dataclass
class TokenStream:
    """What ``RAG.stream`` returns: iterate it for the answer's text; ``sources`` and ``prompt`` are known up front.

    The first ``HOLD_CHARS`` characters are held back, so that a degenerate
    reply is replaced (as ``ask`` would) before any of it is shown. Once the
    stream is exhausted, ``answer`` is the same ``Answer`` that ``ask`` returns;
    a reply that turns out unsupported or a refusal then has ``abstained`` set,
    though its text has been shown.
    """

    answerer: Answerer
    question: str
    prompt_parts: Prompt
    tokens: Iterator[str]
    answerable: bool = True  # False: the passages cannot answer, so the stream is the abstention
    on_answer: Callable[[Answer], None] | None = None  # told the answer once the stream is exhausted (a conversation's turn)
    text: str = field(default="", init=False)
    answer: Answer | None = field(default=None, init=False)

    @property
    def sources(self) -> list[Hit]:
        return self.prompt_parts.passages

    @property
    def abstained(self) -> bool:
        """Known up front when the passages cannot answer; otherwise once the stream is exhausted."""
        return self.answer.abstained if self.answer is not None else not self.answerable

    @property
    def prompt(self) -> str:
        return self.answerer.generator.render(self.prompt_parts.messages) if self.answerable else ""

    def __iter__(self) -> Iterator[str]:
        if not self.answerable:
            self.answer = self.answerer.abstention(self.question, self.prompt_parts)
            self.text = self.answer.text
            self._finished(self.answer)
            yield self.text
            return
        held = ""
        flowing = False
        for token in self.tokens:
            if flowing:
                self.text += token
                yield token
                continue
            held += token
            if len(strip_citations(held).strip()) >= HOLD_CHARS:
                flowing = True
                self.text = held
                yield held
        reply = Reply(self.text if flowing else held)
        kind = None if flowing else self.answerer.kind(held, self.question, self.prompt_parts)
        if kind:
            retry = self.answerer.generator.generate(retry_messages(self.prompt_parts.messages, held, self.question, kind))
            reply = self.answerer.repair(self.question, self.sources, held, retry, kind)
        self.answer = self.answerer.finish(self.question, self.prompt_parts, reply)
        self._finished(self.answer)
        if not flowing:
            # Nothing shown yet: show the answer as ask would give it (an abstention says so).
            self.text = self.answer.text
            yield self.text

    def _finished(self, answer: Answer) -> None:
        if self.on_answer is not None:
            self.on_answer(answer)

    @property
    def citations(self) -> list[Citation]:
        return self.answer.citations if self.answer is not None else []

    @property
    def invalid_citations(self) -> int:
        return self.answer.invalid_citations if self.answer is not None else 0
