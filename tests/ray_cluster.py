"""A real Ray cluster on this machine for the tests: ``ray start --head --block``, stopped by its own pid.

Its workers import ragkit from this checkout (``PYTHONPATH``), and its session files go to a
folder of its own, so that nothing is shared with another Ray on the machine; ``ray stop``,
which stops every Ray of the user, is never called.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from chroma_server import HOST, environment_command, free_port
from paths import REPO

START_SECONDS = 120.0
# Enough for the small folders of the tests; Ray's default is 30% of the machine's memory.
OBJECT_STORE_BYTES = 256 * 1024 * 1024


class RayCluster:
    """A one-node cluster of ``cpus`` logical CPUs; ``address`` is what ``loading.ray.address`` takes."""

    def __init__(self, cpus: int = 2):
        self.cpus = cpus
        self.port = free_port()
        # Short: Ray puts its sockets under it, and a socket path may not pass 107 characters.
        self.folder = Path(tempfile.mkdtemp(prefix="rk-ray-", dir="/tmp"))
        self.log = self.folder / "ray-start.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    def start(self) -> "RayCluster":
        # Drain: none, so that stopping takes seconds, not the half minute Ray gives a node by default.
        path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0", "PYTHONPATH": path}
        env.pop("RAY_ADDRESS", None)
        command = [
            environment_command("ray", "install the ray extra"), "start", "--head", "--block", "--node-ip-address", HOST, "--port", str(self.port),
            "--num-cpus", str(self.cpus), "--include-dashboard", "false", "--temp-dir", str(self.folder / "t"),
            "--object-store-memory", str(OBJECT_STORE_BYTES), "--disable-usage-stats",
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + START_SECONDS
        while "block forever" not in self.log.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log_text = self.log.read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"ray start did not start a cluster on port {self.port}:\n{log_text}")
            time.sleep(0.2)
        with socket.create_connection((HOST, self.port), timeout=5):
            pass
        return self

    def stop(self) -> None:
        """SIGTERM: ``ray start --block`` then stops the processes it started; SIGKILL after 60 seconds."""
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def worker_pids(self, title: str) -> list[int]:
        """Processes of this cluster (descendants of its ``ray start``) whose command line holds ``title``."""
        assert self.process is not None
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                children.setdefault(parent, []).append(int(entry.name))
        found, stack = [], [self.process.pid]
        while stack:
            pid = stack.pop()
            stack.extend(children.get(pid, []))
            try:
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if title in command:
                found.append(pid)
        return found
