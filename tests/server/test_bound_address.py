"""The app run by uvicorn directly, as ``uvicorn.run(create_app(...), host=...)``: the socket bound decides
whether a token is needed, and ``/healthz`` means the models are loaded. Requests go to 127.0.0.1 only."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from serving import STARTUP_SECONDS, TINY_GENERATOR, TOKEN_ENV, free_port, pipeline_file, stop

RUN = (
    "import sys, uvicorn\n"
    "from ragkit.pipeline import RAG\n"
    "from ragkit.server.app import create_app\n"
    "uvicorn.run(create_app(RAG.from_yaml(sys.argv[1])), host=sys.argv[2], port=int(sys.argv[3]), log_level='warning')\n"
)


@contextmanager
def _uvicorn(pipeline: Path, host: str, log: Path) -> Iterator[str]:
    """The app on ``host``, without a token in the environment, until ``/livez`` answers on 127.0.0.1."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-c", RUN, str(pipeline), host, str(port)], stdout=sink, stderr=subprocess.STDOUT, env=env
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(url + "/livez", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        stop(process)


def _until_ready(url: str, expected: str) -> httpx.Response:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        health = httpx.get(url + "/healthz", timeout=5)
        if health.json()["status"] == expected or time.monotonic() > deadline:
            return health
        assert health.status_code == 503 and health.json() == {"status": "loading"}
        time.sleep(0.3)


def test_a_listener_on_every_address_without_a_token_answers_nothing(tmp_path: Path) -> None:
    with _uvicorn(pipeline_file(tmp_path, TINY_GENERATOR), "0.0.0.0", tmp_path / "log") as url:
        assert _until_ready(url, "ok").status_code == 200
        with httpx.Client(base_url=url, timeout=60) as client:
            for method, path, body in [
                ("GET", "/v1/stats", None),
                ("POST", "/v1/retrieve", {"question": "q"}),
                ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
                ("POST", "/v1/ingest", {"path": "."}),
            ]:
                response = client.request(method, path, json=body)
                assert response.status_code == 403, path
                assert response.json()["error"]["message"] == (
                    "this server listens on 0.0.0.0, not only on loopback, and has no bearer token, so it answers "
                    f"nothing: restart it with the environment variable {TOKEN_ENV} set, or bound to 127.0.0.1"
                )
            assert client.get("/livez").json() == {"status": "ok"}


def test_healthz_waits_for_the_models_and_livez_does_not(tmp_path: Path) -> None:
    good = pipeline_file(tmp_path, TINY_GENERATOR)
    with _uvicorn(good, "127.0.0.1", tmp_path / "good.log") as url:
        assert _until_ready(url, "ok").json() == {"status": "ok"}
        assert httpx.get(url + "/v1/stats", timeout=60).status_code == 200  # loopback: no token needed
    broken = tmp_path / "broken.yaml"
    broken.write_text(good.read_text() + "embedder:\n  model: /nonexistent/model\n")
    with _uvicorn(broken, "127.0.0.1", tmp_path / "broken.log") as url:
        health = _until_ready(url, "failed")
        assert health.status_code == 503 and health.json() == {"status": "failed"}
        assert httpx.get(url + "/livez", timeout=5).json() == {"status": "ok"}
    assert "loading the models failed, so /healthz answers 503" in (tmp_path / "broken.log").read_text()
