"""The generator contract: chat messages in, text out (whole, streamed or batched)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

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
        self.size = size
        self._texts: OrderedDict[tuple[tuple[str, str], ...], str] = OrderedDict()
        self._tokens: OrderedDict[str, list[int]] = OrderedDict()
        self._lock = threading.Lock()  # a server's worker threads share one generator

    def text(self, messages: Messages, render: Callable[[Messages], str]) -> str:
        key = tuple((message["role"], message["content"]) for message in messages)
        return self._remembered(self._texts, key, lambda: render(messages))

    def tokens(self, text: str, tokenize: Callable[[str], list[int]]) -> list[int]:
        return self._remembered(self._tokens, text, lambda: tokenize(text))

    def _remembered(self, memo: OrderedDict[Any, Any], key: Any, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in memo:
                memo.move_to_end(key)
                return memo[key]
        value = make()
        with self._lock:
            memo[key] = value
            while len(memo) > self.size:
                memo.popitem(last=False)
        return value
