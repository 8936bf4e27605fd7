"""Conversations over HTTP, on a real ``ragkit serve`` (the tiny model, sample_docs): ``/v1/ask`` with a
``conversation`` and ``/v1/chat/completions`` with model ``ragkit`` answer as ``RAG.chat`` does."""

from __future__ import annotations

import json

import httpx
import pytest

from serving import Server, sse_events

FIRST = "What is the default chunk size of the Lumen chunker?"
FOLLOW_UP = "And its overlap?"
CONVERSATION = [{"question": FIRST, "answer": "The default chunk size is 220 tokens."}]


@pytest.fixture(scope="module")
def client(tiny_server: Server):
    with tiny_server.client() as client:
        yield client


def test_ask_with_a_conversation_retrieves_for_the_follow_up_made_standalone(client: httpx.Client) -> None:
    alone = client.post("/v1/ask", json={"question": FOLLOW_UP}).raise_for_status().json()
    answer = client.post("/v1/ask", json={"question": FOLLOW_UP, "conversation": CONVERSATION}).raise_for_status().json()
    assert alone["query"] == FOLLOW_UP and answer["question"] == FOLLOW_UP
    assert answer["query"] != FOLLOW_UP  # the tiny model's rewrite is noise, but it is what was retrieved for
    assert set(answer) == set(alone)  # the same answer object
    assert FIRST in answer["prompt"] and "220 tokens" in answer["prompt"] and FIRST not in alone["prompt"]
    # An empty conversation is a first question: retrieved as asked, the same answer as without one.
    first = client.post("/v1/ask", json={"question": FOLLOW_UP, "conversation": []}).raise_for_status().json()
    assert {k: first[k] for k in ("query", "answer", "prompt")} == {k: alone[k] for k in ("query", "answer", "prompt")}


def test_a_streamed_conversation_ends_with_the_same_answer(client: httpx.Client) -> None:
    body = {"question": FOLLOW_UP, "conversation": CONVERSATION}
    whole = client.post("/v1/ask", json=body).raise_for_status().json()
    with client.stream("POST", "/v1/ask", json={**body, "stream": True}) as response:
        events = sse_events(response)
    done = json.loads(events[-1][1])
    assert events[0][0] == "sources" and events[-1][0] == "done"
    assert {k: done[k] for k in ("query", "answer", "prompt", "sources")} == {k: whole[k] for k in ("query", "answer", "prompt", "sources")}


def test_chat_completions_with_model_ragkit_use_the_whole_conversation(client: httpx.Client) -> None:
    messages = [
        {"role": "system", "content": "ignored: the pipeline has its own"},
        {"role": "user", "content": CONVERSATION[0]["question"]},
        {"role": "assistant", "content": CONVERSATION[0]["answer"]},
        {"role": "user", "content": FOLLOW_UP},
    ]
    completion = client.post("/v1/chat/completions", json={"model": "ragkit", "messages": messages}).raise_for_status().json()
    asked = client.post("/v1/ask", json={"question": FOLLOW_UP, "conversation": CONVERSATION}).raise_for_status().json()
    same = {k: v for k, v in asked.items() if k != "timings"}
    assert {k: v for k, v in completion["answer"].items() if k != "timings"} == same
    assert completion["choices"][0]["message"]["content"] == asked["answer"]
    with client.stream("POST", "/v1/chat/completions", json={"model": "ragkit", "messages": messages, "stream": True}) as response:
        events = [data for _, data in sse_events(response)]
    text = "".join(json.loads(data)["choices"][0]["delta"].get("content", "") for data in events[:-1])
    assert events[-1] == "[DONE]" and text.strip() == asked["answer"]
    # Another model name is the generator alone: no passages, the messages as sent.
    plain = client.post("/v1/chat/completions", json={"model": "tiny", "messages": messages}).raise_for_status().json()
    assert plain["answer"] is None


def test_a_conversation_that_does_not_end_with_a_question_or_is_too_long_is_a_422(client: httpx.Client) -> None:
    messages = [{"role": "user", "content": FIRST}, {"role": "assistant", "content": "220"}]
    response = client.post("/v1/chat/completions", json={"model": "ragkit", "messages": messages})
    assert response.status_code == 422 and "last message must be the user's question" in response.json()["error"]["message"]
    long = [{"question": "x" * 2000, "answer": "y" * 2000}] * 9
    response = client.post("/v1/ask", json={"question": FOLLOW_UP, "conversation": long})
    assert response.status_code == 422 and "the conversation holds 36000 characters; the limit is 32000" in response.text
    response = client.post("/v1/ask", json={"question": FOLLOW_UP, "conversation": [{"answer": "no question"}]})
    assert response.status_code == 422
