"""A real Chroma server on loopback for the tests: the ``chroma run`` command the chromadb package installs."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
START_SECONDS = 60.0


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def environment_command(name: str, installed_by: str) -> str:
    """The command ``name`` of the environment running the tests, next to its Python, else on PATH."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"no `{name}` command next to {sys.executable} or on PATH; {installed_by}")
    return found


class ChromaServer:
    """``chroma run --path PATH --host 127.0.0.1 --port PORT``, which can be stopped and started again on both."""

    def __init__(self, path: Path, port: int | None = None):
        self.path = path
        self.port = port or free_port()
        self.log = path.with_name(f"{path.name}.log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "ChromaServer":
        """Start the server and wait for its heartbeat; fails with the end of its log if it does not answer."""
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [environment_command("chroma", "is chromadb installed?"), "run", "--path", str(self.path), "--host", HOST, "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + START_SECONDS
        while not self._beats():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma run did not start on port {self.port}:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 seconds) and wait until it is gone."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def _beats(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.port}/api/v2/heartbeat", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def store_keys(self, collection: str) -> dict[str, Any]:
        """The chroma store's keys (a pipeline's ``store`` section, less ``type``) for this server."""
        return {"mode": "server", "host": HOST, "port": self.port, "collection": collection}
