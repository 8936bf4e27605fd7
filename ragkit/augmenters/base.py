"""The prompt augmenter contract: a question and passages in, chat messages out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ragkit.types import Hit, Prompt

Messages = list[dict[str, str]]


@runtime_checkable
class PromptCounter(Protocol):
    """Counts the tokens of a whole chat prompt as the generator will see it."""

    def count_prompt_tokens(self, messages: Messages) -> int: ...


@runtime_checkable
class Augmenter(Protocol):
    """Built as ``Augmenter(config, counter=...)`` with the generator as the counter."""

    def build(self, question: str, hits: list[Hit]) -> Prompt: ...
