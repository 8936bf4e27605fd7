"""A server bound to every address: the token rules, and failures that reach clients without their tracebacks.

Its generator is an ``openai`` one pointed at a port where nothing listens, so
every generation fails inside the server, as it would with its backend down.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from serving import TOKEN, TOKEN_ENV, Server, free_port, pipeline_file, serve, sse_events

INTERNAL = {"error": {"message": "internal server error; the server log has the details", "type": "server_error"}}


@pytest.fixture(scope="module")
def exposed(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("exposed")
    root = folder / "docs"
    root.mkdir()
    (root / "heron.md").write_text("# Heron\n\nThe Heron serving stack allows 48 concurrent sequences per GPU.\n")
    dead = f"http://127.0.0.1:{free_port()}/v1"
    generator = f"generator:\n  type: openai\n  base_url: {dead}\n  model: nothing\n  max_retries: 0"
    with serve(pipeline_file(folder, generator), folder / "server.log", host="0.0.0.0", roots=[root]) as server:
        with server.client(TOKEN) as client:
            client.post("/v1/ingest", json={"path": str(root)}).raise_for_status()
        yield server


def test_only_health_and_the_page_are_open(exposed: Server) -> None:
    with exposed.client() as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        assert anonymous.get("/").status_code == 200
        for method, path in [("GET", "/v1/stats"), ("GET", "/openapi.json"), ("POST", "/v1/ask"),
                             ("POST", "/v1/retrieve"), ("POST", "/v1/chat/completions"), ("POST", "/v1/ingest")]:
            response = anonymous.request(method, path, json={"question": "q"})
            assert response.status_code == 401, path
            assert "needs a bearer token: send the header 'Authorization: Bearer <token>'" in response.json()["error"]["message"]
            assert TOKEN_ENV in response.json()["error"]["message"] and TOKEN not in response.text
    with exposed.client("not-the-token") as wrong:
        response = wrong.get("/v1/stats")
        assert response.status_code == 401 and response.json()["error"]["message"] == "wrong bearer token"
    with httpx.Client(base_url=exposed.url, headers={"Authorization": f"Basic {TOKEN}"}) as basic:
        assert basic.get("/v1/stats").status_code == 401
    with exposed.client(TOKEN) as client:
        assert client.get("/v1/stats").json()["store"]["files"] == 1
        hits = client.post("/v1/retrieve", json={"question": "How many sequences per GPU?"}).json()["hits"]
        assert hits[0]["source"] == "heron.md"


def test_a_failure_inside_the_server_is_a_500_without_a_traceback(exposed: Server) -> None:
    with exposed.client(TOKEN) as client:
        ask = client.post("/v1/ask", json={"question": "How many sequences per GPU?"})
        # model ragkit (the default) answers from the documents; another name is the generator alone: both fail
        chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "How many sequences per GPU?"}]})
        with client.stream("POST", "/v1/ask", json={"question": "How many sequences?", "stream": True}) as streamed:
            events = sse_events(streamed)
        chat_stream = client.post(
            "/v1/chat/completions", json={"model": "nothing", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        )
    assert ask.status_code == 500 and ask.json() == INTERNAL
    assert chat.status_code == 500 and chat.json() == INTERNAL
    assert [name for name, _ in events] == ["sources", "error"] and json.loads(events[1][1]) == INTERNAL
    assert chat_stream.status_code == 500 and chat_stream.json() == INTERNAL  # it failed before its first token
    for body in (ask.text, chat.text, json.dumps(events), chat_stream.text):
        assert "Traceback" not in body and "File \"" not in body and "127.0.0.1" not in body
    log = exposed.output()  # the details are in the server's log instead
    assert "Traceback" in log and "RemoteGeneratorError: cannot reach http://127.0.0.1:" in log


def _serve_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ragkit.cli", "serve", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_serve_refuses_to_start_unsafely(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    pipeline = pipeline_file(tmp_path, "generator:\n  type: openai\n  model: x")
    exposed = _serve_cli("-p", str(pipeline), "--host", "0.0.0.0", "--port", str(free_port()), env=env)
    assert exposed.returncode == 2
    assert (
        "ragkit: error: serving on 0.0.0.0, which is not a loopback address, needs a bearer token: set the "
        f"environment variable {TOKEN_ENV} (or bind 127.0.0.1)"
    ) in exposed.stderr
    (tmp_path / "exposed.yaml").write_text(pipeline.read_text() + "server:\n  host: 0.0.0.0\n")  # the same, from the pipeline
    from_yaml = _serve_cli("-p", str(tmp_path / "exposed.yaml"), "--port", str(free_port()), env=env)
    assert from_yaml.returncode == 2 and "serving on 0.0.0.0, which is not a loopback address" in from_yaml.stderr
    no_root = _serve_cli("-p", str(pipeline), "--root", str(tmp_path / "missing"), env=env)
    assert no_root.returncode == 2 and f"--root {tmp_path / 'missing'}: not a folder" in no_root.stderr
    (tmp_path / "links.yaml").write_text(pipeline.read_text() + "loading:\n  follow_symlinks: true\n")
    links = _serve_cli("-p", str(tmp_path / "links.yaml"), "--root", str(tmp_path), env=env)
    assert links.returncode == 2 and "cannot be combined with loading.follow_symlinks: true" in links.stderr
