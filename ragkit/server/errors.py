"""Errors as clients see them: a status and one clear message, never a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragkit.ingest.manifest import SettingsChangedError, StoreLockedError
from ragkit.server.batcher import QueueFullError
from ragkit.stores.base import StoreFullError

log = logging.getLogger(__name__)

INTERNAL_ERROR = "internal server error; the server log has the details"

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "invalid_request_error",
    503: "overloaded_error",
}


class ApiError(Exception):
    """Raised by a route to answer ``status`` with ``message``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": {"message", "type"}}``: the shape OpenAI clients, and ragkit's openai generator, parse."""
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return JSONResponse({"error": {"message": message, "type": kind}}, status_code=status, headers=headers)


class InternalErrors:
    """ASGI middleware: an unexpected exception becomes a bare 500 for the client and a traceback in the log.

    Handled here, not left to Starlette and uvicorn, because uvicorn closes the
    connection after an exception reaches it, and a client that reuses the
    connection (keep-alive) would see its next request reset.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            if started:  # too late for a status: the connection must end
                raise
            await error_response(500, INTERNAL_ERROR)(scope, receive, send)


def add_error_handlers(app: FastAPI) -> None:
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
