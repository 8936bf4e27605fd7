"""A generator on a remote server that speaks the OpenAI chat-completions API.

vLLM, TGI, llama.cpp's ``llama-server``, Ollama and ``ragkit serve`` all serve
``POST {base_url}/chat/completions``; this stage sends the augmenter's messages
there through the official ``openai`` SDK, whole or streamed.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pydantic import Field

from ragkit import models
from ragkit.stage import StageConfig
from ragkit.generators.base import Messages, plain_transcript

if TYPE_CHECKING:
    import openai
    from openai.types.chat import ChatCompletionChunk

# Without a local tokenizer, prompts are counted as one token per 3 UTF-8 bytes. Real
# tokenizers average about 4 bytes a token on English and 4-5 on Chinese (3 bytes a
# character), so the estimate runs high and a prompt that fits by it fits the server's model.
BYTES_PER_TOKEN = 3

# The SDK insists on a key when its client is built; every request then sets its own
# Authorization header from api_key_env, or omits it, so this one is never sent.
UNSENT_KEY = "unsent"


class RemoteGeneratorError(RuntimeError):
    """The server could not be reached, or refused the request; the message says which and why."""


class OpenAIGenerator:
    """Chat completions from an OpenAI-compatible server, through the ``openai`` SDK.

    The API key is read at every request from the environment variable named by
    ``api_key_env``, never from the pipeline file; without it no ``Authorization``
    header is sent (local servers usually need none). The SDK retries connection
    failures, 408, 409, 429 and 5xx answers ``max_retries`` times with exponential
    backoff (0.5 s doubling, at most 8 s) or after the server's ``Retry-After``
    (up to 2 minutes; a longer one fails at once). A read timeout is not retried,
    since the server may still be generating, and a stream only until it starts.

    The server applies its model's chat template, which this side cannot see:
    ``render`` is a plain transcript and prompt tokens are estimated (see
    ``BYTES_PER_TOKEN``), unless ``tokenizer`` names the served model's tokenizer
    (an alias, folder or hub id), which makes both exact.
    ``generate_batch`` sends up to ``concurrency`` requests at once, so that a
    batching server (vLLM, ``ragkit serve``) can batch them.
    """

    class Config(StageConfig):
        base_url: str = "http://127.0.0.1:8000/v1"
        model: str
        api_key_env: str = "OPENAI_API_KEY"
        timeout: float = Field(default=120.0, gt=0)
        connect_timeout: float = Field(default=5.0, gt=0)
        max_retries: int = Field(default=3, ge=0)
        temperature: float = Field(default=0.0, ge=0)
        max_tokens: int = Field(default=256, ge=1)
        concurrency: int = Field(default=8, ge=1)
        tokenizer: str | None = None

    def __init__(self, config: Config):
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self._client: openai.OpenAI | None = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> openai.OpenAI:
        """One SDK client, and so one connection pool, shared by the threads of ``generate_batch``."""
        with self._lock:
            if self._client is None:
                self._client = _sdk_client(self.config)
            return self._client

    @property
    def tokenizer(self) -> Any:
        with self._lock:
            if self._tokenizer is None and self.config.tokenizer is not None:
                self._tokenizer = _load_tokenizer(self.config.tokenizer)
            return self._tokenizer

    def render(self, messages: Messages) -> str:
        tokenizer = self.tokenizer
        if tokenizer is not None and tokenizer.chat_template:
            return str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        return plain_transcript(messages)

    def count_prompt_tokens(self, messages: Messages) -> int:
        text = self.render(messages)
        if self.tokenizer is not None:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)

    def generate(self, messages: Messages) -> str:
        with self._errors():
            completion = self._create(messages, stream=False)
        if isinstance(completion, str):  # the SDK hands over a body that is not JSON as its text
            raise RemoteGeneratorError(f"{self.url} answered with something other than JSON: {completion:.300}")
        try:
            return (completion.choices[0].message.content or "").strip()
        except (AttributeError, IndexError, TypeError):  # the SDK does not check answers: a missing field is None
            raise RemoteGeneratorError(
                f"{self.url} answered without choices[0].message.content: {completion.to_dict()!r:.300}"
            ) from None

    def generate_batch(self, batch: Sequence[Messages]) -> list[str]:
        if len(batch) <= 1:
            return [self.generate(messages) for messages in batch]
        with ThreadPoolExecutor(min(self.config.concurrency, len(batch))) as pool:
            return list(pool.map(self.generate, batch))

    def stream(self, messages: Messages) -> Iterator[str]:
        with self._errors():
            chunks = self._create(messages, stream=True)
        with chunks, self._errors(started=True):
            for chunk in chunks:
                text = _delta_text(chunk)
                if text:
                    yield text

    def _create(self, messages: Messages, *, stream: bool) -> Any:
        """The SDK's answer: a ``ChatCompletion``, or a ``Stream`` of chunks, open once the server has answered 200."""
        import openai

        key = os.environ.get(self.config.api_key_env)
        return self.client.chat.completions.create(
            model=self.config.model,
            messages=messages,  # type: ignore[arg-type]  # plain role/content dicts, which the SDK's TypedDicts describe
            temperature=self.config.temperature,
            max_tokens=self.config.max_tokens,
            stream=stream,
            extra_headers={"Authorization": f"Bearer {key}" if key else openai.omit},
        )

    @contextmanager
    def _errors(self, *, started: bool = False) -> Iterator[None]:
        """The SDK's exceptions as one ``RemoteGeneratorError`` that says which server and why.

        ``started``: the answer had begun arriving, so nothing was retried.
        """
        import httpx2
        import openai

        try:
            yield
        except openai.APITimeoutError as exc:
            if started:
                problem = f"went silent for {self.config.timeout:g}s (generator.timeout) in the middle of an answer"
            elif isinstance(exc.__cause__, httpx2.ReadTimeout):  # raised by _sdk_client's HTTP client
                problem = (
                    f"sent no answer within {self.config.timeout:g}s (generator.timeout); not retried, "
                    "since the server may still be generating"
                )
            else:  # connecting timed out, on every attempt
                raise RemoteGeneratorError(self._unreachable(exc)) from None
            raise RemoteGeneratorError(f"{self.url} {problem}") from None
        except openai.APIConnectionError as exc:
            if started:
                raise RemoteGeneratorError(f"the answer from {self.url} broke off: {_cause(exc)}") from None
            raise RemoteGeneratorError(self._unreachable(exc)) from None
        except openai.APIStatusError as exc:
            problem = f"{self.url} answered {exc.status_code}: {_server_words(exc.body) or exc.response.reason_phrase}"
            retried = _gave_up(exc) if _attempts(exc) > 1 else ""
            raise RemoteGeneratorError(problem + _advice(exc.status_code, self.config.api_key_env) + retried) from None
        except openai.APIError as exc:  # an error event inside a stream
            raise RemoteGeneratorError(f"{self.url} failed mid-stream: {_server_words(exc.body)}") from None
        except json.JSONDecodeError as exc:
            what = "sent a malformed stream event" if started else "answered with something other than JSON"
            raise RemoteGeneratorError(f"{self.url} {what}: {exc.doc.strip():.300}") from None

    def _unreachable(self, error: openai.APIConnectionError) -> str:
        return f"cannot reach {self.url}: {_cause(error)}{_gave_up(error)}"


def _sdk_client(config: OpenAIGenerator.Config) -> openai.OpenAI:
    """The SDK's client for ``config``, over an HTTP client whose read timeouts the SDK does not retry.

    The SDK retries every timeout, but one waiting for an answer means the server
    may still be generating it: sending the request again would only add to its
    load. It passes its own errors on untouched, so a read timeout becomes one.
    """
    import httpx2
    import openai

    class HttpClient(openai.DefaultHttpxClient):
        """The SDK's default HTTP client (its pool limits, redirects), with read timeouts as ``openai`` errors."""

        def send(self, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
            try:
                return super().send(request, **kwargs)
            except httpx2.ReadTimeout as exc:
                raise openai.APITimeoutError(request=request) from exc

    return openai.OpenAI(
        api_key=UNSENT_KEY,
        base_url=config.base_url,
        timeout=openai.Timeout(config.timeout, connect=config.connect_timeout),
        max_retries=config.max_retries,
        http_client=HttpClient(),
    )


def _delta_text(chunk: ChatCompletionChunk) -> str | None:
    """A stream chunk's text; ``None`` for one without (the role, the finish reason, usage).

    The SDK does not check chunks: a field a server left out is ``None``.
    """
    delta = chunk.choices[0].delta if chunk.choices else None
    return delta.content if delta is not None else None


def _cause(error: openai.APIConnectionError) -> str:
    """What the HTTP client said (refused, reset, which timeout)."""
    cause = error.__cause__
    if cause is None:
        return error.message
    return str(cause) or type(cause).__name__


def _attempts(error: openai.APIError) -> int:
    """How many times the SDK sent the request, from the retry count it sends with each one."""
    return int(error.request.headers.get("x-stainless-retry-count", "0")) + 1


def _gave_up(error: openai.APIError) -> str:
    attempts = _attempts(error)
    return (
        f" (gave up after {attempts} attempt{'s' if attempts > 1 else ''}; "
        "check generator.base_url and that the server is running)"
    )


def _server_words(body: object) -> str:
    """The server's own words from an error's body: OpenAI's ``message``, FastAPI's ``detail``, or its text.

    The SDK hands over an OpenAI-style answer's ``error`` object, else the whole JSON, else the text.
    """
    if isinstance(body, dict):
        words = body.get("message") or body.get("detail")
        return str(words)[:300] if words else json.dumps(body)[:300]
    return str(body or "").strip()[:300]


def _advice(status: int, api_key_env: str) -> str:
    if status in (401, 403):
        return f" (the API key is read from the environment variable {api_key_env}; generator.api_key_env names it)"
    if status == 404:
        return " (check generator.base_url, which usually ends in /v1, and generator.model)"
    return ""


def _load_tokenizer(name: str) -> Any:
    """The tokenizer of a packaged alias, a local folder or a hub id; GGUF models from their converted copy if any."""
    from transformers import AutoTokenizer

    resolved = models.resolve(name)
    if resolved.gguf_file is None:
        return AutoTokenizer.from_pretrained(resolved.location)
    if (resolved.converted_dir / "tokenizer_config.json").exists():
        return AutoTokenizer.from_pretrained(resolved.converted_dir)
    return AutoTokenizer.from_pretrained(resolved.location, gguf_file=resolved.gguf_file)
