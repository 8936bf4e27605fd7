"""The generator contract: chat messages in, text out (whole, streamed or batched)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, runtime_checkable

from ragkit.memo import Memo

Messages = list[dict[str, str]]


@runtime_checkable
class Generator(Protocol):
    """Also a ``PromptCounter``, so the augmenter can fit passages into its context."""

    def render(self, messages: Messages) -> str:
        """The exact prompt text the model receives (chat template applied)."""
        ...

    def count_prompt_tokens(self, messages: Messages) -> int: ...

    def generate(self, messages: Messages) -> str: ...

    def generate_batch(self, batch: Sequence[Messages]) -> list[str]: ...

    def stream(self, messages: Messages) -> Iterator[str]: ...


def plain_transcript(messages: Messages) -> str:
    """A prompt for a model without a chat template (or whose template is unknown): a transcript to continue."""
    lines = [f"{message['role'].capitalize()}: {message['content']}" for message in messages]
    return "\n\n".join(lines) + "\n\nAssistant:"


class PromptMemo:
    """The last few prompts' rendered text and token ids, kept so that each question's prompt is rendered and
    tokenized once, though the augmenter counts it, the generator encodes it and the answer shows it."""

    def __init__(self, size: int = 64):
        self._texts: Memo[tuple[tuple[str, str], ...], str] = Memo(size)
        self._tokens: Memo[str, list[int]] = Memo(size)

    def text(self, messages: Messages, render: Callable[[Messages], str]) -> str:
        key = tuple((message["role"], message["content"]) for message in messages)
        return self._texts.get(key, lambda: render(messages))

    def tokens(self, text: str, tokenize: Callable[[str], list[int]]) -> list[int]:
        return self._tokens.get(text, lambda: tokenize(text))
