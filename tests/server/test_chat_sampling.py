"""/v1/chat/completions applies ``stop`` and refuses the ``temperature`` and ``max_tokens`` it cannot apply."""

from __future__ import annotations

import json

import httpx
import pytest

from serving import Server, sse_events

MESSAGES = [{"role": "user", "content": "Name a colour."}]


@pytest.fixture(scope="module")
def client(tiny_server: Server):
    with tiny_server.client() as client:
        yield client


def _error(response: httpx.Response) -> str:
    return str(response.json()["error"]["message"])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"temperature": 0.7}, "temperature 0.7 is not supported: this server samples at the pipeline's "
                               "generator.temperature, 0; omit temperature or send that value"),
        ({"max_tokens": 3}, "max_tokens 3 is not supported: this server's generator writes up to 8 tokens"),
    ],
)
def test_sampling_settings_the_generator_cannot_apply_are_a_400(client: httpx.Client, settings: dict, message: str) -> None:
    for stream in (False, True):
        response = client.post("/v1/chat/completions", json={"messages": MESSAGES, "stream": stream, **settings})
        assert response.status_code == 400 and message in _error(response)
        assert response.json()["error"]["type"] == "invalid_request_error"


def test_its_own_settings_and_a_larger_max_tokens_are_honoured(client: httpx.Client) -> None:
    body = {"messages": MESSAGES, "temperature": 0, "max_tokens": 4096}
    assert client.post("/v1/chat/completions", json=body).status_code == 200


def test_stop_ends_the_answer_before_the_first_stop_string_whole_and_streamed(client: httpx.Client) -> None:
    whole = client.post("/v1/chat/completions", json={"messages": MESSAGES}).raise_for_status().json()
    text = whole["choices"][0]["message"]["content"]
    middle = next(i for i in range(len(text) // 2, len(text) - 1) if not text[i : i + 2].isspace() and " " not in text[i : i + 2])
    stop = text[middle : middle + 2]
    expected = text[: text.find(stop)]
    assert len(expected) < len(text)
    cut = client.post("/v1/chat/completions", json={"messages": MESSAGES, "stop": [stop, "never-there"]}).json()
    assert cut["choices"][0]["message"]["content"] == expected
    with client.stream("POST", "/v1/chat/completions", json={"messages": MESSAGES, "stop": stop, "stream": True}) as streamed:
        events = [data for _, data in sse_events(streamed)]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(data)["choices"][0] for data in events[:-1]]
    assert chunks[-1]["finish_reason"] == "stop"
    assert "".join(chunk["delta"].get("content", "") for chunk in chunks).strip() == expected.strip()


def test_malformed_stop_lists_are_a_422(client: httpx.Client) -> None:
    for stop in (["a"] * 5, [""], ["x" * 101], [1]):
        response = client.post("/v1/chat/completions", json={"messages": MESSAGES, "stop": stop})
        assert response.status_code == 422 and "body.stop" in _error(response)
