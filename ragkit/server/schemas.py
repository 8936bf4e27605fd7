"""Request and response bodies of the HTTP API; FastAPI builds the OpenAPI schema from them.

ragkit's own endpoints forbid unknown fields, so a typo is a 422 rather than a
silently ignored option. The chat-completions request ignores the OpenAI fields
it does not use (``top_p``, ``user``, ...), as OpenAI clients send many.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ragkit.types import Hit


def _exact_matches(where: dict[str, str | int | float | bool]) -> dict[str, str | int | float | bool]:
    """Refuse what the stores would fail on later, with a 500: operators, empty keys, NaN and infinities."""
    for key, value in where.items():
        if not key or key.startswith("$"):
            raise ValueError(
                f"filter key {key!r} is not a metadata field; filters are exact matches on fields, all of which "
                'must match, e.g. {"file_type": "pdf", "page": 2} (operators such as $and are not supported)'
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"filter value of {key!r} must be a finite number, not {value}")
    return where


# Metadata filters are exact matches on scalar fields: {"file_type": "pdf", "page": 2}.
Filter = Annotated[dict[str, str | int | float | bool], AfterValidator(_exact_matches)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TurnIn(_Strict):
    """An earlier turn of a conversation: what was asked, and what was answered."""

    question: str = Field(min_length=1)
    answer: str = ""


class AskRequest(_Strict):
    question: str = Field(min_length=1, description="the question, in any language")
    conversation: list[TurnIn] | None = Field(
        default=None,
        description="earlier turns, oldest first: the question is then a follow-up, made standalone before "
        "retrieval and answered with these turns in the prompt (as `RAG.chat` does)",
    )
    k: int | None = Field(default=None, ge=1, description="passages to retrieve (default: the pipeline's top_k)")
    where: Filter | None = Field(default=None, description='metadata filter, e.g. {"file_type": "pdf"}')
    stream: bool = Field(default=False, description="answer as server-sent events: sources, token..., done")


class RetrieveRequest(_Strict):
    question: str = Field(min_length=1)
    k: int | None = Field(default=None, ge=1)
    where: Filter | None = None


class IngestRequest(_Strict):
    path: str = Field(min_length=1, description="a folder or file under one of the server's --root folders")
    prune: bool = Field(default=True, description="delete the chunks of files gone from the folder")
    dry_run: bool = Field(default=False, description="report what would change; write nothing")


class Source(BaseModel):
    """A passage the answer was given, as ``Hit.to_dict`` writes it."""

    id: str
    source: str
    page: int | None
    score: float
    scores: dict[str, float] = Field(default_factory=dict, description="each ranking's own score, by name")
    text: str
    metadata: dict[str, Any]

    @classmethod
    def of(cls, hit: Hit) -> "Source":
        return cls.model_validate(hit.to_dict())


class CitationOut(BaseModel):
    """A passage that supports the answer, as ``Citation.to_dict`` writes it."""

    number: int = Field(description="the passage's number in the prompt and in `sources` (from 1)")
    source: str
    page: int | None
    hit_id: str
    span: str = Field(description="the passage's sentence that supports the answer")
    support: float = Field(description="share of the supported sentence's terms beyond the question's that it holds")


class AskResponse(BaseModel):
    """The same answer object as ``RAG.ask`` returns (``Answer.to_dict``)."""

    question: str
    query: str = Field(description="what the passages were retrieved for: the question, or a follow-up made standalone")
    answer: str
    abstained: bool = Field(description="the documents do not answer: nothing retrieved, a named identifier in no passage, a refusal, or an unsupported reply")
    grounded: bool = Field(description="the passages hold what the answer says")
    support: float
    repaired: str | None = Field(description="what replaced a degenerate reply (regenerated; abstained when the retry was degenerate too) or a bare value (completed)")
    draft: str = Field(description="the model's own reply where `answer` is not it")
    citations: list[CitationOut]
    invalid_citations: int
    sources: list[Source]
    prompt: str
    timings: dict[str, float]


class RetrieveResponse(BaseModel):
    question: str
    hits: list[Source]


class StatsResponse(BaseModel):
    store: dict[str, Any] = Field(description="chunk, document and file counts")
    server: dict[str, Any] = Field(description="the batching queue: jobs, batches, mean and largest batch")


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


StopString = Annotated[str, Field(min_length=1, max_length=100)]


class ChatRequest(BaseModel):
    """An OpenAI chat-completions request. Sampling settings come from the pipeline's generator: a
    ``temperature`` or ``max_tokens`` it cannot apply is refused by the endpoint; ``stop`` is applied."""

    model_config = ConfigDict(extra="ignore")

    model: str = "ragkit"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    stop: StopString | Annotated[list[StopString], Field(max_length=4)] | None = Field(
        default=None, description="up to 4 strings; the answer ends before the first of them"
    )


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatMessage
    finish_reason: str = "stop"


class ChatResponse(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    answer: AskResponse | None = Field(
        default=None, description="model `ragkit`: the whole answer object, as `/v1/ask` returns it (sources, citations, query)"
    )


class ErrorDetail(BaseModel):
    message: str
    type: str


class ErrorResponse(BaseModel):
    """Every error, in the shape OpenAI clients already parse."""

    error: ErrorDetail
