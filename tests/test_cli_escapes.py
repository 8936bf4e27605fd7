"""File names and texts that carry terminal escapes reach the terminal escaped, as ``--json`` has them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# A newline that forges a line, \x01, an OSC title sequence and a colour sequence.
HOSTILE = "evil\nFAKE LINE \x01\x1b]0;pwned\x07\x1b[31mred.md"
ESCAPED = "evil\\nFAKE LINE \\x01\\x1b]0;pwned\\x07\\x1b[31mred.md"


def _run(*args: str, pipeline: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ragkit.cli", *args, "-p", str(pipeline)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TQDM_DISABLE": "1"},
    )


def _clean(output: str) -> None:
    assert "\x1b" not in output and "\x01" not in output and "\x07" not in output
    assert not any(line.startswith("FAKE LINE") for line in output.splitlines())


def test_ingest_retrieve_and_stats_print_hostile_names_escaped(tmp_path: Path) -> None:
    folder = tmp_path / "docs\x1b[2J"
    folder.mkdir()
    (folder / HOSTILE).write_text("# Ospreys\n\nThe Osprey-9 cluster \x1b[5mhas 12 nodes.\n")
    os.symlink(tmp_path / "nowhere\x1b[31m", folder / "link\x1b]0;t\x07.md")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(f"store:\n  type: chroma\n  path: {tmp_path / 'store'}\n")

    ingest = _run("ingest", str(folder), pipeline=pipeline)
    assert ingest.returncode == 0, ingest.stderr
    _clean(ingest.stdout + ingest.stderr)
    assert "docs\\x1b[2J: 1 added" in ingest.stdout and "link\\x1b]0;t\\x07.md: broken symbolic link" in ingest.stdout

    retrieve = _run("retrieve", "How many nodes has Osprey-9?", "-k", "1", pipeline=pipeline)
    assert retrieve.returncode == 0, retrieve.stderr
    _clean(retrieve.stdout + retrieve.stderr)
    assert retrieve.stdout.startswith(f"[1] {ESCAPED}  (score ") and "cluster \\x1b[5mhas 12 nodes" in retrieve.stdout

    stats = _run("stats", pipeline=pipeline)
    _clean(stats.stdout)
    as_json = _run("retrieve", "Osprey-9", "-k", "1", "--json", pipeline=pipeline)
    assert json.loads(as_json.stdout)[0]["source"] == HOSTILE and "\x1b" not in as_json.stdout

    missing = _run("ingest", str(tmp_path / "gone\x1b[31m"), pipeline=pipeline)
    assert missing.returncode == 1 and "gone\\x1b[31m" in missing.stderr
    _clean(missing.stderr)
