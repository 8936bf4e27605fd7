"""Bad input on the HTTP API of a real ``ragkit serve``: a 4xx with a message, never a 500 or a hang."""

from __future__ import annotations

import os

import httpx
import pytest

from serving import TOKEN, Server


def _error(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type"}
    return str(body["error"]["message"])


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("x" * 300 + ".md", "File name too long"),  # ENAMETOOLONG from stat(), once a 500
        ("/".join(["d" * 200] * 30), "File name too long"),  # a 6,000-character path
    ],
)
def test_overlong_ingest_paths_are_a_422(tiny_server: Server, path: str, message: str) -> None:
    with tiny_server.client(TOKEN) as client:
        response = client.post("/v1/ingest", json={"path": path})
    assert response.status_code == 422 and message in _error(response)
    assert len(_error(response)) < 400  # the path is shortened in the message


def test_a_fifo_named_in_ingest_is_refused_at_once_and_the_server_stays_usable(tiny_server: Server) -> None:
    fifo = tiny_server.roots[0] / "pipe.md"
    os.mkfifo(fifo)  # no writer: a read would block the model worker, and every request after it
    try:
        with tiny_server.client(TOKEN) as client:
            response = client.post("/v1/ingest", json={"path": "pipe.md"}, timeout=30)
            assert response.status_code == 422
            assert _error(response) == "path 'pipe.md' is a FIFO (named pipe), not a regular file: never opened"
            hits = client.post("/v1/retrieve", json={"question": "chunk overlap", "k": 1}, timeout=60)
            assert hits.status_code == 200 and hits.json()["hits"]
            folder = client.post("/v1/ingest", json={"path": ".", "dry_run": True}, timeout=60).json()
        assert {"path": "pipe.md", "reason": "a FIFO (named pipe), not a regular file: never opened"} in folder["skipped"]
    finally:
        fifo.unlink()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"$and": 1}, "filter key '$and' is not a metadata field"),
        ({"$or": "x"}, "filter key '$or' is not a metadata field"),
        ({"": "x"}, "filter key '' is not a metadata field"),
        ({"$and": [{"a": 1}]}, "body.where.$and"),
        ({"page": {"$gt": 1}}, "body.where.page"),
        ([1, 2], "body.where: Input should be a valid dictionary"),
    ],
)
def test_malformed_filters_are_a_422(tiny_server: Server, where: object, message: str) -> None:
    with tiny_server.client(TOKEN) as client:
        for route in ("/v1/retrieve", "/v1/ask"):
            response = client.post(route, json={"question": "chunk overlap", "where": where})
            assert response.status_code == 422, route
            assert message in _error(response)


def test_a_non_finite_filter_value_is_a_422(tiny_server: Server) -> None:
    with tiny_server.client(TOKEN) as client:
        response = client.post(
            "/v1/retrieve", content=b'{"question": "q", "where": {"page": NaN}}', headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 422 and "filter value of 'page' must be a finite number" in _error(response)
