"""``python -m ragkit.cli`` in a child process, as a shell runs it, for the CLI tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_cli(
    *args: str, store: Path, stdin: str | None = None, cwd: Path | None = None, cache: Path | None = None,
    terminal: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """The command's result; ``store`` is ``RAGKIT_STORE``, ``cache`` ``RAGKIT_CACHE``, ``terminal`` ``TERM``."""
    env = {**os.environ, "RAGKIT_STORE": str(store)}
    env.update({name: str(value) for name, value in (("RAGKIT_CACHE", cache), ("TERM", terminal)) if value is not None})
    return subprocess.run(
        [sys.executable, "-m", "ragkit.cli", *args], input=stdin, capture_output=True, text=True, env=env, cwd=cwd,
        timeout=600,
    )
