"""Prompt building from a template: numbered passages, a token budget, a grounded instruction."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from ragkit.augmenters.base import Messages, PromptCounter
from ragkit.stage import StageConfig
from ragkit.files import read_text_limited
from ragkit.language import is_chinese
from ragkit.types import Hit, Prompt

# Chosen on the English dev half of benchmarks/eval/answers_en.jsonl (real Debian documents) with
# Qwen2.5-Coder-0.5B: asking for "the numbers of the passages you used in square brackets" made
# about one reply in four nothing but "[1]"; without that request (citations come from
# grounding) correct answers went from 13 to 21 of 38 at 3 passages (benchmarks/RESULTS.md).
# Asking for "the exact name or number" and repeating the question after the passages helped on
# our own sample_docs; a worked example, or a list of kinds of answer, made the model copy it.
DEFAULT_SYSTEM = (
    "Answer the question using only the numbered context passages below it. "
    "Reply with one short sentence that states the answer with its exact name or number. "
    "If the passages do not contain the answer, say that you do not know. "
    "Reply in the language of the question."
)

# Qwen2.5-Coder-0.5B ignores "reply in the language of the question" and answers a Chinese
# question with a bare number or name; the request for a whole Chinese sentence, in Chinese, just
# before the answer cue gets one: answers stating the fact in Chinese went from 1 to 9 of 10 Chinese
# questions over sample_docs/ (benchmarks/RESULTS.md). Other questions get no hint.
CHINESE_REPLY_HINT = "请用一句完整的中文句子回答。\n"

DEFAULT_TEMPLATE = "Question: {question}\n\nContext passages:\n{context}\n\nQuestion: {question}\n{reply_hint}Answer:"

# A prompt template is a page of text; anything larger is a wrong path (``/dev/zero``, a data file).
MAX_TEMPLATE_BYTES = 1024 * 1024

PASSAGE_FORMAT = "[{number}] (source: {location})\n{text}"

# One pass over the template, so braces inside passages or the question are left alone.
_SLOT = re.compile(r"\{(context|question|reply_hint)\}")


class TemplateAugmenter:
    """Fills ``{context}``, ``{question}`` and the optional ``{reply_hint}``; passages that do not fit the budget
    are dropped, lowest rank first.

    The question is never cut: if it alone exceeds the budget the prompt holds
    no passages, and the model is told to say it does not know.
    """

    class Config(StageConfig):
        system: str = DEFAULT_SYSTEM
        template: str = DEFAULT_TEMPLATE
        template_file: str | None = None
        max_prompt_tokens: int = 2048
        # Passages in the prompt best first, or best last (nearest the question and the answer cue). Best last, with
        # the 1.5B on the dev halves: English 29 of 38 right against 28, Chinese 16 of 25 against 14, and fewer
        # false abstentions (benchmarks/RESULTS.md).
        order: Literal["best_first", "best_last"] = "best_last"

        @model_validator(mode="after")
        def _template_has_slots(self) -> "TemplateAugmenter.Config":
            if self.template_file is None:
                _check_slots(self.template, "template")
            return self

    def __init__(self, config: Config, *, counter: PromptCounter):
        self.config = config
        self.counter = counter
        self.template = config.template
        if config.template_file is not None:
            path = Path(config.template_file)
            self.template = read_text_limited(path, MAX_TEMPLATE_BYTES, "prompt template file")
            _check_slots(self.template, f"template file {path}")

    def build(self, question: str, hits: list[Hit]) -> Prompt:
        """The prompt with the most best-ranked passages that fit: counted once when all fit, else found by
        bisection over how many to keep (a prompt's length grows with each passage kept), not one passage at a time."""

        def fits(kept: int) -> bool:
            return self.counter.count_prompt_tokens(self._messages(question, self._ordered(hits[:kept]))) <= budget

        budget = self.config.max_prompt_tokens
        low, high = 0, len(hits)  # low passages always go in (none: the question alone), high is what is tried
        if hits and not fits(high):  # no passages: nothing to fit, and nothing to count
            while high - low > 1:
                middle = (low + high) // 2
                low, high = (middle, high) if fits(middle) else (low, middle)
            high = low
        kept = self._ordered(hits[:high])
        return Prompt(messages=self._messages(question, kept), passages=kept, dropped=len(hits) - high)

    def _ordered(self, hits: list[Hit]) -> list[Hit]:
        """The passages in prompt order: ``[n]`` is the n-th of them, whichever way they run."""
        return hits[::-1] if self.config.order == "best_last" else hits

    def _messages(self, question: str, hits: list[Hit]) -> Messages:
        context = "\n\n".join(
            PASSAGE_FORMAT.format(number=number, location=_location(hit), text=hit.text.strip())
            for number, hit in enumerate(hits, start=1)
        )
        slots = {"context": context or "(no passages)", "question": question.strip(), "reply_hint": _reply_hint(question)}
        user = _SLOT.sub(lambda match: slots[match.group(1)], self.template)
        return [{"role": "system", "content": self.config.system}, {"role": "user", "content": user}]


def _location(hit: Hit) -> str:
    return f"{hit.source}, page {hit.page}" if hit.page is not None else hit.source


def _reply_hint(question: str) -> str:
    """The line asking for an answer in the question's language, where the model needs one (Chinese)."""
    return CHINESE_REPLY_HINT if is_chinese(question) else ""


def _check_slots(template: str, what: str) -> None:
    missing = [slot for slot in ("{context}", "{question}") if slot not in template]
    if missing:
        raise ValueError(f"{what} must contain {' and '.join(missing)}")
