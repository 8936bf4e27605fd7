"""A running ``ragkit serve`` and a CLI ingest into the same embedded store: never silent staleness.

The server holds the store: a CLI ingest is refused with a message naming the
server and how to ingest through it, and ``ragkit ingest --via URL`` does,
after which the server's dense and keyword search both find the new chunks.
"""

import os
import subprocess
import sys
from pathlib import Path

from serving import TINY_GENERATOR, TOKEN, TOKEN_ENV, pipeline_file, serve


def _cli(*args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    if token:
        env[TOKEN_ENV] = token
    return subprocess.run(
        [sys.executable, "-m", "ragkit.cli", "ingest", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_a_cli_ingest_is_refused_while_a_server_holds_the_store_and_goes_through_it(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.md").write_text("# Harbor\n\nThe osprey nests above the harbor wall.\n")
    pipeline = pipeline_file(tmp_path, TINY_GENERATOR)
    with serve(pipeline, tmp_path / "server.log", roots=[root]) as server, server.client(TOKEN) as client:
        assert client.post("/v1/ingest", json={"path": str(root)}).raise_for_status().json()["added"] == ["a.md"]
        (root / "b.md").write_text("# Marsh\n\nA zanzibarian heron waded through the marsh at dawn.\n")
        (root / "a.md").unlink()

        refused = _cli(str(root), "-p", str(pipeline))
        assert refused.returncode == 1
        assert f"a ragkit server (pid {server.process.pid}, {server.url}) holds this store" in refused.stderr
        assert f"ragkit ingest --via {server.url} PATH" in refused.stderr and "/v1/ingest" in refused.stderr

        via = _cli(str(root), "--via", server.url, "--json", token=TOKEN)
        assert via.returncode == 0, via.stderr
        assert '"added": [\n    "b.md"' in via.stdout and '"removed": [\n    "a.md"' in via.stdout

        found = {}
        for question in ("zanzibarian heron", "a bird wading in the wetland early in the morning", "osprey harbor wall"):
            response = client.post("/v1/retrieve", json={"question": question, "k": 5})
            assert response.status_code == 200, response.text
            found[question] = {hit["source"] for hit in response.json()["hits"]}
        assert found["zanzibarian heron"] == {"b.md"}  # the new chunk, by its words
        # no word of it in common but one: only a dense search that sees the new chunk keeps hybrid from abstaining
        assert found["a bird wading in the wetland early in the morning"] == {"b.md"}
        assert "a.md" not in found["osprey harbor wall"]  # the removed one is gone
        assert client.get("/v1/stats").json()["store"]["chunks"] == 1
    # the server is gone, so is its hold
    assert _cli(str(root), "-p", str(pipeline), "--json").returncode == 0
