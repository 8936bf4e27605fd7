"""Every endpoint of a real ``ragkit serve`` on loopback (the tiny model; sample_docs ingested through the API)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from serving import TOKEN, Server, sse_events

QUESTION = "How many special tokens does the Lumen-7 tokenizer reserve?"


@pytest.fixture(scope="module")
def client(tiny_server: Server):
    with tiny_server.client() as client:
        yield client


def _error(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type"}
    return str(body["error"]["message"])


def test_health_page_and_openapi_schema(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html") and 'id="ask-form"' in page.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/retrieve", "/v1/chat/completions", "/v1/ingest", "/v1/stats", "/healthz"} <= set(paths)
    assert "question" in json.dumps(paths["/v1/ask"])


def test_ask_answers_with_the_passages_retrieve_finds(client: httpx.Client) -> None:
    answer = client.post("/v1/ask", json={"question": QUESTION}).raise_for_status().json()
    hits = client.post("/v1/retrieve", json={"question": QUESTION}).raise_for_status().json()["hits"]
    assert answer["question"] == QUESTION and answer["answer"]
    best_first = answer["sources"][::-1]  # the sources come in the prompt's order, best last
    assert best_first and [s["id"] for s in best_first] == [h["id"] for h in hits][: len(best_first)]
    assert hits[0]["source"] == "guides/tokenization.md"
    assert QUESTION in answer["prompt"] and set(answer["timings"]) == {"retrieve", "augment", "generate"}
    # The whole answer object, as RAG.ask gives it: a client tells an abstention from an answer.
    assert {"abstained", "grounded", "support", "citations", "invalid_citations", "repaired", "draft"} <= set(answer)
    assert isinstance(answer["abstained"], bool) and isinstance(answer["citations"], list)


def test_retrieve_takes_k_and_a_metadata_filter(client: httpx.Client) -> None:
    body = {"question": "When does the memory alert fire?", "k": 3, "where": {"file_type": "pdf"}}
    hits = client.post("/v1/retrieve", json=body).raise_for_status().json()["hits"]
    assert len(hits) == 3
    assert all(hit["source"].startswith("pdf/") and hit["page"] >= 1 for hit in hits)
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)


def test_streamed_answer_is_sources_then_tokens_then_done_and_equals_the_whole_answer(client: httpx.Client) -> None:
    whole = client.post("/v1/ask", json={"question": QUESTION}).json()
    with client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done" and set(names[1:-1]) == {"token"} and len(names) >= 3
    sources = json.loads(events[0][1])["sources"]
    assert [s["id"] for s in sources] == [s["id"] for s in whole["sources"]]
    tokens = "".join(json.loads(data)["text"] for name, data in events if name == "token")
    done = json.loads(events[-1][1])
    assert tokens.strip() == done["answer"] == whole["answer"]
    same = ("abstained", "grounded", "citations", "invalid_citations", "sources", "prompt")
    assert {key: done[key] for key in same} == {key: whole[key] for key in same}


def test_chat_completions_whole_and_streamed_agree(client: httpx.Client) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a colour."}]
    body = {"model": "tiny", "messages": messages, "temperature": 0, "max_tokens": 8, "user": "ignored"}
    completion = client.post("/v1/chat/completions", json=body).raise_for_status().json()
    assert completion["object"] == "chat.completion" and completion["model"] == "tiny"
    assert completion["id"].startswith("chatcmpl-")
    [choice] = completion["choices"]
    assert choice["message"]["role"] == "assistant" and choice["finish_reason"] == "stop"
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        events = [data for _, data in sse_events(response)]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(data) for data in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" and chunk["id"] == chunks[0]["id"] for chunk in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text.strip() == choice["message"]["content"] != ""


def test_stats_count_the_store_and_the_batches(client: httpx.Client) -> None:
    client.post("/v1/ask", json={"question": QUESTION}).raise_for_status()
    stats = client.get("/v1/stats").raise_for_status().json()
    assert stats["store"]["files"] >= 15 and stats["store"]["chunks"] > stats["store"]["files"]
    assert stats["server"]["batches"] >= 1 and stats["server"]["max_batch"] == 8


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/ask", {}, 422, "body.question: Field required"),
        ("/v1/ask", {"question": ""}, 422, "body.question: String should have at least 1 character"),
        ("/v1/ask", {"question": "q", "k": 0}, 422, "body.k: Input should be greater than or equal to 1"),
        ("/v1/ask", {"question": "q", "k": 51}, 422, "k is 51; the limit is 50"),
        ("/v1/ask", {"question": "q" * 2001}, 422, "question is 2001 characters long; the limit is 2000"),
        ("/v1/ask", {"question": "q", "top": 3}, 422, "body.top: unknown field"),
        ("/v1/ask", {"question": "q", "where": {"page": [1, 2]}}, 422, "body.where.page"),
        ("/v1/retrieve", {"question": 7}, 422, "body.question: Input should be a valid string"),
        ("/v1/chat/completions", {"messages": []}, 422, "body.messages: List should have at least 1 item"),
        ("/v1/chat/completions", {"messages": [{"role": "robot", "content": "hi"}]}, 422, "body.messages.0.role"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x" * 32_001}]}, 422,
         "messages hold 32001 characters; the limit is 32000"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_clear_message(
    client: httpx.Client, path: str, body: dict, status: int, message: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == status
    assert message in _error(response)


def test_malformed_json_oversize_bodies_and_unknown_routes(client: httpx.Client) -> None:
    response = client.post("/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and "request body is not valid JSON" in _error(response)
    huge = json.dumps({"question": "x" * 300_000})
    response = client.post("/v1/ask", content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and _error(response) == "request body is larger than the limit of 262144 bytes"

    def chunked():  # no Content-Length: the limit must hold all the same
        for _ in range(300):
            yield b"x" * 1024

    response = client.post("/v1/ask", content=chunked(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert client.get("/v1/nowhere").status_code == 404 and _error(client.get("/v1/nowhere")) == "Not Found"
    assert client.get("/v1/ask").status_code == 405


def test_ingest_always_needs_the_token_even_on_loopback(tiny_server: Server, client: httpx.Client) -> None:
    root = tiny_server.roots[0]
    missing = client.post("/v1/ingest", json={"path": str(root)})
    assert missing.status_code == 401 and "ingest needs a bearer token" in _error(missing)
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = client.post("/v1/ingest", json={"path": str(root)}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and _error(wrong) == "wrong bearer token"


def test_ingest_adds_a_new_file_and_a_dry_run_writes_nothing(tiny_server: Server) -> None:
    root = tiny_server.roots[0]
    note = root / "notes" / "osprey.md"
    note.write_text("# Ospreys\n\nThe Osprey-9 cluster has 12 nodes.\n")
    with tiny_server.client(TOKEN) as client:
        before = client.get("/v1/stats").json()["store"]
        dry = client.post("/v1/ingest", json={"path": ".", "dry_run": True}).raise_for_status().json()
        assert dry["dry_run"] and dry["added"] == ["notes/osprey.md"] and dry["updated"] == []
        assert client.get("/v1/stats").json()["store"] == before
        report = client.post("/v1/ingest", json={"path": "."}).raise_for_status().json()  # relative to the root
        assert report["added"] == ["notes/osprey.md"] and report["root"] == str(root.resolve())
        assert client.get("/v1/stats").json()["store"]["files"] == before["files"] + 1
        hits = client.post("/v1/retrieve", json={"question": "How many nodes has Osprey-9?", "k": 1}).json()["hits"]
        assert "Osprey-9" in hits[0]["text"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("../outside", 403, "contains '..'"),
        ("notes/../../outside/secret.md", 403, "contains '..'"),
        ("{outside}/secret.md", 403, "is outside the folders this server may ingest ({root})"),
        ("/etc", 403, "is outside the folders this server may ingest"),
        ("escape", 403, "is outside the folders this server may ingest"),  # a link inside the root, to outside
        ("escape/secret.md", 403, "is outside the folders this server may ingest"),
        ("no-such-folder", 404, "no such file or folder: 'no-such-folder'"),
    ],
)
def test_ingest_refuses_paths_outside_its_roots(tiny_server: Server, path: str, status: int, message: str) -> None:
    root = tiny_server.roots[0]
    outside = root.parent / "outside"
    with tiny_server.client(TOKEN) as client:
        response = client.post("/v1/ingest", json={"path": path.format(outside=outside)})
    assert response.status_code == status
    assert message.format(root=root.resolve()) in _error(response)


def client_stats(server: Server) -> dict:
    with server.client() as client:
        return dict(client.get("/v1/stats").json())


def test_sixteen_concurrent_clients_get_every_answer(tiny_server: Server) -> None:
    """A bounded load test: 16 clients, 4 questions each; every request answered, each with its own question."""
    questions = [f"Question {n}: what is the default chunk size of the Lumen chunker?" for n in range(64)]
    answers: dict[str, dict] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def client_run(mine: list[str]) -> None:
        with tiny_server.client() as client:
            for question in mine:
                try:
                    response = client.post("/v1/ask", json={"question": question, "k": 2})
                    body = response.json()
                except httpx.HTTPError as exc:
                    failures.append(f"{question}: {exc!r}")
                    continue
                with lock:
                    if response.status_code != 200:
                        failures.append(f"{question}: {response.status_code} {body}")
                    else:
                        answers[question] = body

    threads = [threading.Thread(target=client_run, args=(questions[i::16],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert sorted(answers) == sorted(questions)
    assert all(body["question"] == question and body["answer"] for question, body in answers.items())
    assert client_stats(tiny_server)["server"]["largest_batch"] > 1  # concurrent questions were batched


def test_ingest_report_lists_nothing_from_outside(tiny_server: Server) -> None:
    root: Path = tiny_server.roots[0]
    with tiny_server.client(TOKEN) as client:
        report = client.post("/v1/ingest", json={"path": str(root), "dry_run": True}).raise_for_status().json()
    seen = report["added"] + report["updated"] + report["unchanged"]
    assert seen and not any("secret" in source or source.startswith("escape") for source in seen)
