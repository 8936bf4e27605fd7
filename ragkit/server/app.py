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
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from ragkit.settings import ServerSettings
from ragkit.server.batcher import Batcher
from ragkit.server.completions import RAG_MODEL, before_stop, chat_chunks, check_sampling, completion_tokens, turns
from ragkit.server.errors import INTERNAL_ERROR, ApiError, InternalErrors, add_error_handlers
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
    The models load on the model worker as the app starts; ``/healthz`` answers
    503 until they have, ``/livez`` 200 as soon as the process answers at all.
    An embedded store is held until the app shuts down (``RAG.hold_store``): other
    processes' ingests are refused and told to go through ``POST /v1/ingest``.
    """
    settings = settings or rag.config.server
    token = read_token(settings)
    check_roots(settings.roots, rag)
    batcher = Batcher(settings.max_batch, settings.max_wait_ms / 1000, settings.max_queue)
    warming: Future[Any] | None = None
    # An embedded store is this server's alone from here on: another process's ingest would leave it stale.
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    rag.hold_store(f"http://{host}:{settings.port}")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal warming
        batcher.start()
        warming = batcher.submit_alone(rag.warm_up)
        warming.add_done_callback(_log_warm_up_failure)
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
    add_error_handlers(app)

    def check_conversation(texts: Sequence[str]) -> None:
        size = sum(len(text) for text in texts)
        if size > settings.max_chat_chars:
            raise ApiError(422, f"the conversation holds {size} characters; the limit is {settings.max_chat_chars}")

    def check_question(question: str, k: int | None) -> None:
        if len(question) > settings.max_question_chars:
            raise ApiError(
                422, f"question is {len(question)} characters long; the limit is {settings.max_question_chars}"
            )
        if k is not None and k > settings.max_k:
            raise ApiError(422, f"k is {k}; the limit is {settings.max_k}")

    @app.get(
        "/healthz",
        tags=["server"],
        summary="Readiness: 200 once the models are loaded and the store answered; 503 before, or if that failed",
        responses={503: {"description": '`{"status": "loading"}` or `{"status": "failed"}` (the log says why)'}},
    )
    async def healthz() -> Response:
        if warming is None or not warming.done():
            return JSONResponse({"status": "loading"}, status_code=503)
        if warming.exception() is not None:
            return JSONResponse({"status": "failed"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/livez", tags=["server"], summary="Liveness: 200 whenever the process answers, models loaded or not")
    async def livez() -> dict[str, str]:
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
        "then `token` events (`{\"text\": ...}`), then `done` (the whole answer object, as without streaming), "
        "or `error`.",
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def ask(request: AskRequest) -> Any:
        check_question(request.question, request.k)
        history = [(turn.question, turn.answer) for turn in request.conversation or []]
        check_conversation([text for turn in history for text in turn])
        if request.stream:
            return await _sse(batcher, lambda: _ask_events(rag, request, history))
        if request.conversation is not None:  # built on the worker: the history is counted with the generator's tokenizer
            answer = await asyncio.wrap_future(
                batcher.submit_alone(lambda: rag.chat(history).ask(request.question, request.k, request.where))
            )
            return answer.to_dict()
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
        summary="OpenAI-compatible chat completions: with model `ragkit`, answers from the documents",
        description="With model `ragkit` (the default) the last message is a question about the documents and "
        "the earlier user and assistant messages the conversation before it: the question is made standalone "
        "from them before retrieval and answered with them in the prompt, as `/v1/ask` with a `conversation` "
        "answers it (the whole answer object comes back in `answer`; system messages are the pipeline's own). "
        "Any other model name is the pipeline's generator alone, given the messages as they are. "
        "Sampling is the pipeline generator's: a `temperature` other than its own is refused (400), "
        "and so is a `max_tokens` below its token limit (one at or above it is honoured, since no answer is "
        "longer); `stop` (up to 4 strings) ends the answer before the first of them. "
        "With `stream: true`: `chat.completion.chunk` events, then `data: [DONE]`.",
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def chat_completions(request: ChatRequest) -> Any:
        size = sum(len(message.content) for message in request.messages)
        if size > settings.max_chat_chars:
            raise ApiError(422, f"messages hold {size} characters; the limit is {settings.max_chat_chars}")
        check_sampling(request, rag.generator)
        stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        messages = [message.model_dump() for message in request.messages]
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        from_documents = request.model == RAG_MODEL
        if from_documents and messages[-1]["role"] != "user":
            raise ApiError(422, "body.messages: with model 'ragkit' the last message must be the user's question")
        if request.stream:
            return await _sse(
                batcher,
                lambda: chat_chunks(completion_tokens(rag, messages, request.model), stops, completion_id, created, request.model),
                openai=True,
            )
        answer = None
        if from_documents:
            answer = await asyncio.wrap_future(
                batcher.submit_alone(lambda: rag.chat(turns(messages[:-1])).ask(messages[-1]["content"]))
            )
            text = answer.text
        else:
            text = await asyncio.wrap_future(batcher.submit(("chat",), rag.generator.generate_batch, messages))
        return ChatResponse(
            id=completion_id,
            created=created,
            model=request.model,
            choices=[ChatChoice(message=ChatMessage(role="assistant", content=before_stop(text, stops)))],
            answer=answer.to_dict() if answer is not None else None,
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


def _filter_key(where: dict[str, Any] | None) -> str:
    return json.dumps(where, sort_keys=True)


def _ask_events(rag: RAG, request: AskRequest, history: list[tuple[str, str]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Runs on the model worker: retrieval, then the answer token by token."""
    if request.conversation is not None:
        stream = rag.chat(history).stream(request.question, request.k, request.where)
    else:
        stream = rag.stream(request.question, request.k, request.where)
    yield "sources", {"question": request.question, "sources": [hit.to_dict() for hit in stream.sources]}
    for token in stream:
        yield "token", {"text": token}
    assert stream.answer is not None  # set once the stream is exhausted
    yield "done", stream.answer.to_dict()


def _log_warm_up_failure(warming: Future[Any]) -> None:
    error = warming.exception()
    if error is not None:
        log.error("loading the models failed, so /healthz answers 503: %s", error, exc_info=error)


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
