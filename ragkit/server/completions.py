"""The OpenAI chat-completions endpoint's parts: a conversation from its messages, streamed chunks, stops, sampling."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ragkit.server.errors import ApiError
from ragkit.server.schemas import ChatRequest

if TYPE_CHECKING:
    from ragkit.pipeline import RAG

# The model that answers from the documents; any other name is the pipeline's generator alone.
RAG_MODEL = "ragkit"


def turns(messages: Sequence[dict[str, str]]) -> list[tuple[str, str]]:
    """Earlier chat messages as (question, answer) turns: each user message with the assistant reply after it."""
    found: list[tuple[str, str]] = []
    for message in messages:
        if message["role"] == "user":
            found.append((message["content"], ""))
        elif message["role"] == "assistant" and found and not found[-1][1]:
            found[-1] = (found[-1][0], message["content"])
    return found


def completion_tokens(rag: RAG, messages: list[dict[str, str]], model: str) -> Iterator[str]:
    """Runs on the model worker: the reply's text as it comes, from the documents (``RAG_MODEL``) or the generator."""
    if model == RAG_MODEL:
        return iter(rag.chat(turns(messages[:-1])).stream(messages[-1]["content"]))
    return iter(rag.generator.stream(messages))


def chat_chunks(
    tokens: Iterator[str], stops: Sequence[str], completion_id: str, created: int, model: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Runs on the model worker: OpenAI ``chat.completion.chunk`` events, ending before the first stop string.

    The last ``len(longest stop) - 1`` characters are held back, since a stop
    string may arrive split across tokens.
    """

    def chunk(delta: dict[str, str], finish: str | None = None) -> tuple[str, dict[str, Any]]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return "", {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [choice]}

    hold = max((len(stop) for stop in stops), default=1) - 1
    pending = next(tokens, "")  # a generator that cannot start fails here, before the response has begun
    yield chunk({"role": "assistant", "content": ""})
    for token in tokens:
        pending += token
        cut = before_stop(pending, stops)
        if len(cut) < len(pending):  # a stop string arrived: the rest is never sent
            pending = cut
            break
        if len(pending) > hold:
            yield chunk({"content": pending[: len(pending) - hold]})
            pending = pending[len(pending) - hold :]
    pending = before_stop(pending, stops)
    if pending:
        yield chunk({"content": pending})
    yield chunk({}, "stop")


def before_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any of ``stops``."""
    found = [index for stop in stops if (index := text.find(stop)) >= 0]
    return text[: min(found)] if found else text


def check_sampling(request: ChatRequest, generator: Any) -> None:
    """Refuse sampling settings this server cannot apply: it has one generator, configured in the pipeline."""
    config = getattr(generator, "config", None)
    temperature = getattr(config, "temperature", None)
    limit = getattr(config, "max_new_tokens", None) or getattr(config, "max_tokens", None)
    if request.temperature is not None and request.temperature != temperature:
        pipeline = f"the pipeline's generator.temperature, {temperature:g}" if temperature is not None else "its own"
        raise ApiError(
            400,
            f"temperature {request.temperature:g} is not supported: this server samples at {pipeline}; "
            "omit temperature or send that value",
        )
    if request.max_tokens is not None and (limit is None or request.max_tokens < limit):
        writes = f"up to {limit} tokens (the pipeline's generator settings)" if limit is not None else "its own length"
        raise ApiError(
            400,
            f"max_tokens {request.max_tokens} is not supported: this server's generator writes {writes} and "
            "cannot stop sooner for one request; omit max_tokens or send at least that",
        )
