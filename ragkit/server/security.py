"""Who may call what, how large a request may be, and which paths ingest may read."""

from __future__ import annotations

import errno
import hmac
import ipaddress
import os
import socket
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ragkit.settings import ServerSettings
from ragkit.files import not_regular, special_kind
from ragkit.server.errors import ApiError, error_response

if TYPE_CHECKING:
    from ragkit.pipeline import RAG

# Open to anyone who can connect: the health check, and the page, which holds no data (every
# call it makes carries the token the user types, since a browser cannot send one to load it).
PUBLIC_PATHS = frozenset({"/", "/healthz", "/livez"})
INGEST_PATH = "/v1/ingest"

# Characters of a requested path quoted in an error message.
MAX_SHOWN_PATH = 200


class Guard:
    """ASGI middleware run before any route: the bearer token first, then the body-size limit.

    The body is read here, up to the limit, and replayed to the app; a body with
    no ``Content-Length`` (chunked) is held to the same limit.
    """

    def __init__(self, app: ASGIApp, *, settings: ServerSettings, token: str | None):
        self.app, self.settings, self.token = app, settings, token
        self._listening: dict[int, list[str]] = {}  # per local port: the addresses bound to it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._authorize(scope)
            messages = await self._read_body(scope, receive)
        except ApiError as exc:
            await error_response(exc.status, exc.message, exc.headers)(scope, receive, send)
            return
        await self.app(scope, _replay(messages, receive), send)

    def _authorize(self, scope: Scope) -> None:
        path = scope["path"]
        ingest = path == INGEST_PATH
        listening = self._listening_on(scope)
        exposed = not listening or not all(is_loopback(host) for host in listening)
        if path in PUBLIC_PATHS or not (ingest or exposed):
            return
        if self.token is None and exposed:
            raise ApiError(
                403,
                f"this server listens on {', '.join(listening) or 'an unknown address'}, not only on loopback, "
                f"and has no bearer token, so it answers nothing: restart it with the environment variable "
                f"{self.settings.token_env} set, or bound to 127.0.0.1",
            )
        if self.token is None:
            raise ApiError(
                403,
                f"ingest needs a bearer token, and this server has none: start it with the environment "
                f"variable {self.settings.token_env} set",
            )
        scheme, _, given = _header(scope, b"authorization").partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not given:
            raise ApiError(
                401,
                f"{'ingest' if ingest else 'this server'} needs a bearer token: send the header "
                f"'Authorization: Bearer <token>' with the token from the server's {self.settings.token_env}",
                challenge,
            )
        if not hmac.compare_digest(given.strip().encode(), self.token.encode()):
            raise ApiError(401, "wrong bearer token", challenge)

    def _listening_on(self, scope: Scope) -> list[str]:
        """The addresses of the listener this request came through, from the socket, not the settings.

        The app may be run by any ASGI server on any address (``uvicorn.run(app,
        host="0.0.0.0")``). ``scope["server"]`` is the connection's local end,
        127.0.0.1 for a local client even on a 0.0.0.0 listener, so the
        listening sockets of this process on that port decide; where none is
        found, that local end does. A Unix socket counts as loopback.
        """
        server = scope.get("server")
        if server is None:
            return []
        host, port = server[0], server[1]
        if port is None:
            return ["127.0.0.1"]
        if port not in self._listening:
            self._listening[port] = listening_addresses(port) or [str(host)]
        return self._listening[port]

    async def _read_body(self, scope: Scope, receive: Receive) -> list[Message]:
        limit = self.settings.max_body_bytes
        too_large = ApiError(413, f"request body is larger than the limit of {limit} bytes")
        declared = _header(scope, b"content-length")
        if declared and (not declared.isdigit() or int(declared) > limit):
            raise too_large
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > limit:
                raise too_large
            if not message.get("more_body", False):
                return messages


def listening_addresses(port: int) -> list[str]:
    """The addresses this process's listening TCP sockets on ``port`` are bound to (empty where fds cannot be listed)."""
    folder = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    try:
        descriptors = [int(name) for name in os.listdir(folder)]
    except OSError:
        return []
    found = []
    for descriptor in descriptors:
        try:
            if not stat.S_ISSOCK(os.fstat(descriptor).st_mode):
                continue
            copy = os.dup(descriptor)  # the socket object below closes its descriptor, never the server's
        except OSError:
            continue
        with socket.socket(fileno=copy) as sock:
            try:
                listens = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                address = sock.getsockname()
            except OSError:
                continue
            if sock.family in (socket.AF_INET, socket.AF_INET6) and listens and address[1] == port:
                found.append(str(address[0]))
    return sorted(set(found))


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return ""


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """The body already read, then the real ``receive`` (a streaming response waits on it for a disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


def read_token(settings: ServerSettings) -> str | None:
    """The token from the environment, checked against the bind address."""
    from ragkit.config import ConfigError

    token = os.environ.get(settings.token_env) or None
    if token is None and not is_loopback(settings.host):
        raise ConfigError(
            f"serving on {settings.host}, which is not a loopback address, needs a bearer token: set the "
            f"environment variable {settings.token_env} (or bind 127.0.0.1)"
        )
    return token


def ingest_target(requested: str, roots: Sequence[Path]) -> Path:
    """The real path of ``requested`` if it lies inside one of ``roots``; otherwise an ``ApiError`` that says why.

    A relative path is taken relative to the first root. ``..`` is refused
    outright; symbolic links are resolved before the check, so a link inside a
    root that points outside it is refused too.
    """
    if not roots:
        raise ApiError(403, "ingest is disabled: start the server with --root DIR for the folders it may ingest")
    if "\x00" in requested:
        raise ApiError(422, "path contains a NUL byte")
    shown = _shown(requested)
    path = Path(requested)
    if ".." in path.parts:
        raise ApiError(403, f"path {shown} contains '..'; give a path inside a root without it")
    candidate = path if path.is_absolute() else roots[0] / path
    real = Path(os.path.realpath(candidate))
    real_roots = [Path(os.path.realpath(root)) for root in roots]
    if not any(real == root or real.is_relative_to(root) for root in real_roots):
        allowed = ", ".join(str(root) for root in real_roots)
        raise ApiError(403, f"path {shown} is outside the folders this server may ingest ({allowed})")
    try:
        mode = real.stat().st_mode
    except OSError as exc:  # ENAMETOOLONG, ELOOP, EACCES: the request's fault, not the server's
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise ApiError(404, f"no such file or folder: {shown}") from None
        raise ApiError(422, f"cannot use path {shown}: {exc.strerror or exc}") from None
    kind = special_kind(mode)
    if kind is not None:
        raise ApiError(422, f"path {shown} is {not_regular(kind)}")
    return real


def _shown(requested: str) -> str:
    """The requested path quoted for a message, its middle elided when long (a 6,000-character path)."""
    quoted = repr(requested)
    return quoted if len(quoted) <= MAX_SHOWN_PATH else f"{quoted[: MAX_SHOWN_PATH // 2]}...{quoted[-MAX_SHOWN_PATH // 2 :]}"


def check_roots(roots: Sequence[Path], rag: RAG) -> None:
    """Refuse roots that are not folders, or that ingest would leave through symbolic links."""
    from ragkit.config import ConfigError

    for root in roots:
        if not root.is_dir():
            raise ConfigError(f"--root {root}: not a folder")
    if roots and rag.config.loading.follow_symlinks:
        raise ConfigError(
            "--root cannot be combined with loading.follow_symlinks: true in the pipeline: a link inside a "
            "root could reach any file on this machine"
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is 127.0.0.0/8, ::1 or ``localhost``; a host name may resolve to anything, so it is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
