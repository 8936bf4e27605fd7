"""The generator contract: chat messages in, text out (whole, streamed or batched)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

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
