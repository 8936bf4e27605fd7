"""The HTTP API over a ``RAG`` pipeline: ask, retrieve, OpenAI chat completions, ingest, stats, a page.

Every call that touches a model goes through one ``Batcher`` worker (see
ragkit/server/batcher.py); the event loop only parses, checks and waits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response, StreamingResponse

from ragkit.manifest import SettingsChangedError, StoreLockedError
from ragkit.server.batcher import Batcher, QueueFullError
from ragkit.stores.base import StoreFullError
from ragkit.server.errors import INTERNAL_ERROR, ApiError, InternalErrors, error_response
from ragkit.server.schemas import (
    AskRequest,
    AskResponse,
    ChatChoice,
    ChatMessage,
    ChatRequest,
    ChatResponse,
    ErrorResponse,
    IngestRequest,
    RetrieveRequest,
    RetrieveResponse,
    Source,
    StatsResponse,
)
from ragkit.server.security import Guard, check_roots, ingest_target, read_token
from ragkit.server.settings import ServerSettings

if TYPE_CHECKING:
    from ragkit.pipeline import RAG

log = logging.getLogger(__name__)

# Server-sent events must not sit in a proxy's buffer.
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (401, 403, 404, 409, 413, 422, 500, 503)
}


def create_app(rag: RAG, settings: ServerSettings | None = None) -> FastAPI:
    """A FastAPI app serving ``rag``; run it with uvicorn, as ``ragkit serve`` does.

    Raises ``ConfigError`` for settings that would be unsafe: a non-loopback
    host without a token, roots that are not folders or that symbolic links could leave.
    An embedded store is held until the app shuts down (``RAG.hold_store``): other
    processes' ingests are refused and told to go through ``POST /v1/ingest``.
    """
    settings = settings or ServerSettings()
    token = read_token(settings)
    check_roots(settings.roots, rag)
    batcher = Batcher(settings.max_batch, settings.max_wait_ms / 1000, settings.max_queue)
    # An embedded store is this server's alone from here on: another process's ingest would leave it stale.
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    rag.hold_store(f"http://{host}:{settings.port}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            batcher.stop()
            rag.release_store()

    app = FastAPI(
        title="ragkit",
        summary="Answers questions about your documents with a local model, citing its sources.",
        version=_version(),
        lifespan=lifespan,
        responses=_ERRORS,
    )
    app.add_middleware(InternalErrors)
    app.add_middleware(Guard, settings=settings, token=token)
    _add_error_handlers(app)

    def check_question(question: str, k: int | None) -> None:
        if len(question) > settings.max_question_chars:
            raise ApiError(
                422, f"question is {len(question)} characters long; the limit is {settings.max_question_chars}"
            )
        if k is not None and k > settings.max_k:
            raise ApiError(422, f"k is {k}; the limit is {settings.max_k}")

    @app.get("/healthz", tags=["server"], summary="Liveness: answers once the models are loaded")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(resources.files("ragkit.server").joinpath("static/index.html").read_text("utf-8"))

    @app.post(
        "/v1/ask",
        tags=["rag"],
        response_model=AskResponse,
        summary="Answer a question with cited sources",
        description="With `stream: true` the answer comes as server-sent events: `sources` (the passages), "
        "then `token` events (`{\"text\": ...}`), then `done` (`{\"answer\": ...}`), or `error`.",
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def ask(request: AskRequest) -> Any:
        check_question(request.question, request.k)
        if request.stream:
            return await _sse(batcher, lambda: _ask_events(rag, request))
        key = ("ask", request.k, _filter_key(request.where))
        answer = await asyncio.wrap_future(
            batcher.submit(key, lambda questions: rag.ask_many(questions, request.k, request.where), request.question)
        )
        return answer.to_dict()

    @app.post("/v1/retrieve", tags=["rag"], response_model=RetrieveResponse, summary="The passages a question retrieves")
    async def retrieve(request: RetrieveRequest) -> RetrieveResponse:
        check_question(request.question, request.k)
        key = ("retrieve", request.k, _filter_key(request.where))
        hits = await asyncio.wrap_future(
            batcher.submit(key, lambda questions: rag.retrieve_many(questions, request.k, request.where), request.question)
        )
        return RetrieveResponse(question=request.question, hits=[Source.of(hit) for hit in hits])

    @app.post(
        "/v1/chat/completions",
        tags=["openai"],
        response_model=ChatResponse,
        summary="OpenAI-compatible chat completions over the pipeline's generator (no retrieval)",
        description="Sampling follows the pipeline's generator settings; `temperature` and `max_tokens` are "
        "accepted and not applied. With `stream: true`: `chat.completion.chunk` events, then `data: [DONE]`.",
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def chat_completions(request: ChatRequest) -> Any:
        size = sum(len(message.content) for message in request.messages)
        if size > settings.max_chat_chars:
            raise ApiError(422, f"messages hold {size} characters; the limit is {settings.max_chat_chars}")
        messages = [message.model_dump() for message in request.messages]
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        if request.stream:
            return await _sse(
                batcher, lambda: _chat_chunks(rag, messages, completion_id, created, request.model), openai=True
            )
        text = await asyncio.wrap_future(batcher.submit(("chat",), rag.generator.generate_batch, messages))
        return ChatResponse(
            id=completion_id,
            created=created,
            model=request.model,
            choices=[ChatChoice(message=ChatMessage(role="assistant", content=text))],
        )

    @app.post(
        "/v1/ingest",
        tags=["rag"],
        summary="Make the store mirror a folder or file under the server's roots (always needs the token)",
        description="Runs on the model worker: questions wait while it runs.",
    )
    async def ingest(request: IngestRequest) -> dict[str, Any]:
        target = ingest_target(request.path, settings.roots)
        report = await asyncio.wrap_future(
            batcher.submit_alone(lambda: rag.ingest(target, prune=request.prune, dry_run=request.dry_run, progress=False))
        )
        return dict(report.to_dict())

    @app.get("/v1/stats", tags=["server"], response_model=StatsResponse, summary="Store counts and the batching queue")
    async def stats() -> StatsResponse:
        return StatsResponse(store=await asyncio.to_thread(rag.stats), server=batcher.stats())

    return app


def _add_error_handlers(app: FastAPI) -> None:
    """One error shape for every expected failure (unexpected ones: ``InternalErrors``)."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return error_response(422, _describe_validation(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return error_response(exc.status_code, message, exc.headers)

    @app.exception_handler(QueueFullError)
    async def busy(request: Request, exc: QueueFullError) -> Response:
        return error_response(503, f"the server is busy ({exc}); try again shortly", {"Retry-After": "1"})

    @app.exception_handler(StoreFullError)
    async def full(request: Request, exc: StoreFullError) -> Response:
        return error_response(507, str(exc))

    @app.exception_handler(SettingsChangedError)
    @app.exception_handler(StoreLockedError)
    async def conflict(request: Request, exc: Exception) -> Response:
        return error_response(409, str(exc))


def _describe_validation(errors: Any) -> str:
    """``body.question: Field required; body.k: Input should be greater than or equal to 1``."""
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()))
        if error.get("type") == "json_invalid":
            parts.append(f"request body is not valid JSON ({error.get('ctx', {}).get('error', 'parse error')})")
        elif error.get("type") == "extra_forbidden":
            parts.append(f"{where}: unknown field")
        else:
            parts.append(f"{where}: {error.get('msg')}")
    return "; ".join(parts) or "invalid request"


def _filter_key(where: dict[str, Any] | None) -> str:
    return json.dumps(where, sort_keys=True)


def _ask_events(rag: RAG, request: AskRequest) -> Iterator[tuple[str, dict[str, Any]]]:
    """Runs on the model worker: retrieval, then the answer token by token."""
    stream = rag.stream(request.question, request.k, request.where)
    yield "sources", {"question": request.question, "sources": [hit.to_dict() for hit in stream.sources]}
    for token in stream:
        yield "token", {"text": token}
    yield "done", {"answer": stream.text.strip()}


def _chat_chunks(
    rag: RAG, messages: list[dict[str, str]], completion_id: str, created: int, model: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Runs on the model worker: OpenAI ``chat.completion.chunk`` events."""

    def chunk(delta: dict[str, str], finish: str | None = None) -> tuple[str, dict[str, Any]]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return "", {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                    "choices": [choice]}

    tokens = iter(rag.generator.stream(messages))
    first = next(tokens, "")  # a generator that cannot start fails here, before the response has begun
    yield chunk({"role": "assistant", "content": first})
    for token in tokens:
        yield chunk({"content": token})
    yield chunk({}, "stop")


async def _sse(batcher: Batcher, produce: Any, *, openai: bool = False) -> StreamingResponse:
    """Stream ``produce()``'s ``(event, data)`` pairs from the worker; an unnamed event is plain ``data:``.

    The first event is awaited before the response begins, so a request that
    fails at once (a full queue, retrieval, a generator that cannot start) gets a
    real status. A failure after that can only be reported inside the stream:
    as an ``error`` event (OpenAI style: a ``data:`` line with an ``error``), logged in full here.
    """
    items = batcher.stream(produce)
    first = await anext(items)

    async def events() -> AsyncIterator[str]:
        yield _event(*first)
        try:
            async for event, data in items:
                yield _event(event, data)
        except Exception:
            log.exception("a streamed answer failed")
            yield _event("" if openai else "error", {"error": {"message": INTERNAL_ERROR, "type": "server_error"}})
            return
        if openai:
            yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


def _event(name: str, data: dict[str, Any]) -> str:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def _version() -> str:
    from ragkit import __version__

    return __version__
