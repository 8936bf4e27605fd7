"""What a ``ragkit serve`` process is allowed to do, and how it batches."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TOKEN_ENV = "RAGKIT_API_TOKEN"


@dataclass(frozen=True)
class ServerSettings:
    """``roots`` are the folders ``POST /v1/ingest`` may read; none disables it.

    The bearer token is read from the environment variable ``token_env`` when
    the app is created; it is required for every endpoint but the health
    checks and the page when the server listens on an address that is not a
    loopback one (decided from the socket bound, whatever ``host`` says), and
    always for ingest.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    roots: tuple[Path, ...] = field(default_factory=tuple)
    token_env: str = DEFAULT_TOKEN_ENV
    max_batch: int = 8  # questions generated together; 1 serves them one at a time
    max_wait_ms: float = 5.0  # how long the first question of a batch waits for company
    max_queue: int = 1024  # waiting requests beyond this get 503
    max_body_bytes: int = 256 * 1024
    max_question_chars: int = 2000
    max_chat_chars: int = 32_000  # all messages of a chat completion together
    max_k: int = 50

    @property
    def loopback(self) -> bool:
        """Whether only this machine can connect to ``host``."""
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is 127.0.0.0/8, ::1 or ``localhost``; a host name may resolve to anything, so it is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
