"""A generator on a remote server that speaks the OpenAI chat-completions API.

vLLM, TGI, llama.cpp's ``llama-server``, Ollama and ``ragkit serve`` all serve
``POST {base_url}/chat/completions``; this stage sends the augmenter's messages
there, whole or streamed as server-sent events.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from pydantic import Field

from ragkit import models
from ragkit.stage import StageConfig
from ragkit.generators.base import Messages, plain_transcript

log = logging.getLogger(__name__)

# Without a local tokenizer, prompts are counted as one token per 3 UTF-8 bytes. Real
# tokenizers average about 4 bytes a token on English and 4-5 on Chinese (3 bytes a
# character), so the estimate runs high and a prompt that fits by it fits the server's model.
BYTES_PER_TOKEN = 3

# Statuses worth another attempt: the server is overloaded or failed, not the request.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})

# Longest wait honoured from a server's Retry-After header.
MAX_RETRY_AFTER_SECONDS = 30.0


class RemoteGeneratorError(RuntimeError):
    """The server could not be reached, or refused the request; the message says which and why."""


class OpenAIGenerator:
    """Chat completions from an OpenAI-compatible server.

    The API key is read from the environment variable named by ``api_key_env``,
    never from the pipeline file; without it no ``Authorization`` header is sent
    (local servers usually need none). Connection failures, 429 and 5xx answers
    are retried ``max_retries`` times with exponential backoff (a server's
    ``Retry-After`` is honoured); a read timeout is not retried, since the
    server may still be generating. A stream is retried only until its first token.

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
        backoff: float = Field(default=0.5, ge=0)
        temperature: float = Field(default=0.0, ge=0)
        max_tokens: int = Field(default=256, ge=1)
        concurrency: int = Field(default=8, ge=1)
        tokenizer: str | None = None

    def __init__(self, config: Config):
        self.config = config
        self.url = config.base_url.rstrip("/") + "/chat/completions"
        self._client: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """One pooled HTTP client, shared by the threads of ``generate_batch``."""
        with self._lock:
            if self._client is None:
                import httpx

                timeout = httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout)
                self._client = httpx.Client(timeout=timeout)
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
        with self._request(messages, stream=False) as response:
            with self._reading():
                response.read()
            data = _json(response)
        try:
            return str(data["choices"][0]["message"]["content"] or "").strip()
        except (KeyError, IndexError, TypeError):
            raise RemoteGeneratorError(f"{self.url} answered without choices[0].message.content: {data!r:.300}") from None

    def generate_batch(self, batch: Sequence[Messages]) -> list[str]:
        if len(batch) <= 1:
            return [self.generate(messages) for messages in batch]
        with ThreadPoolExecutor(min(self.config.concurrency, len(batch))) as pool:
            return list(pool.map(self.generate, batch))

    def stream(self, messages: Messages) -> Iterator[str]:
        with self._request(messages, stream=True) as response, self._reading():
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue  # blank separators, comments, event names
                payload = line[len("data:") :].strip()
                if payload == "[DONE]":
                    return
                try:
                    event = json.loads(payload)
                except json.JSONDecodeError:
                    raise RemoteGeneratorError(f"{self.url} sent a malformed stream event: {payload:.300}") from None
                if event.get("error"):
                    raise RemoteGeneratorError(f"{self.url} failed mid-stream: {_error_text(event)}")
                choices = event.get("choices") or []
                text = (choices[0].get("delta") or {}).get("content") if choices else None
                if text:
                    yield text

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """Errors while reading an answer, once it has begun, as one clear ``RemoteGeneratorError``."""
        import httpx

        try:
            yield
        except httpx.ReadTimeout:
            raise RemoteGeneratorError(
                f"{self.url} went silent for {self.config.timeout:g}s (generator.timeout) in the middle of an answer"
            ) from None
        except httpx.TransportError as exc:
            raise RemoteGeneratorError(f"the answer from {self.url} broke off: {exc or type(exc).__name__}") from None

    @contextmanager
    def _request(self, messages: Messages, *, stream: bool) -> Iterator[Any]:
        """An open response with status 200, after retries; closed when the block ends."""
        import httpx

        body = {
            "model": self.config.model,
            "messages": messages,
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
            "stream": stream,
        }
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        key = os.environ.get(self.config.api_key_env)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        attempts = self.config.max_retries + 1
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            try:
                response = self.client.send(self.client.build_request("POST", self.url, json=body, headers=headers), stream=True)
            except httpx.ReadTimeout:
                raise RemoteGeneratorError(
                    f"{self.url} sent no answer within {self.config.timeout:g}s (generator.timeout); not retried, "
                    "since the server may still be generating"
                ) from None
            except httpx.TransportError as exc:
                problem = f"cannot reach {self.url}: {exc or type(exc).__name__}"
            else:
                if response.status_code == 200:
                    try:
                        yield response
                    finally:
                        response.close()
                    return
                response.read()
                response.close()
                problem = f"{self.url} answered {response.status_code}: {_error_message(response)}"
                if response.status_code not in RETRY_STATUSES:
                    raise RemoteGeneratorError(problem + _advice(response.status_code, self.config.api_key_env))
                retry_after = _retry_after(response)
            if attempt == attempts:
                raise RemoteGeneratorError(
                    f"{problem} (gave up after {attempts} attempts; check generator.base_url and that the server is running)"
                )
            delay = retry_after if retry_after is not None else self.config.backoff * 2 ** (attempt - 1)
            log.warning("%s; attempt %d of %d, retrying in %.1fs", problem, attempt, attempts, delay)
            time.sleep(delay)


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        raise RemoteGeneratorError(f"{response.url} answered with something other than JSON: {response.text:.300}") from None


def _error_message(response: Any) -> str:
    """The server's own words, or the start of its answer."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    return _error_text(data)


def _error_text(data: Any) -> str:
    """The message of an OpenAI-style ``{"error": {"message": ...}}`` or FastAPI's ``{"detail": ...}``."""
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if error or data.get("detail"):
            return str(error or data["detail"])[:300]
    return json.dumps(data)[:300]


def _advice(status: int, api_key_env: str) -> str:
    if status in (401, 403):
        return f" (the API key is read from the environment variable {api_key_env}; generator.api_key_env names it)"
    if status == 404:
        return " (check generator.base_url, which usually ends in /v1, and generator.model)"
    return ""


def _retry_after(response: Any) -> float | None:
    try:
        return min(float(response.headers["Retry-After"]), MAX_RETRY_AFTER_SECONDS)
    except (KeyError, ValueError):
        return None


def _load_tokenizer(name: str) -> Any:
    """The tokenizer of a packaged alias, a local folder or a hub id; GGUF models from their converted copy if any."""
    from transformers import AutoTokenizer

    resolved = models.resolve(name)
    if resolved.gguf_file is None:
        return AutoTokenizer.from_pretrained(resolved.location)
    if (resolved.converted_dir / "tokenizer_config.json").exists():
        return AutoTokenizer.from_pretrained(resolved.converted_dir)
    return AutoTokenizer.from_pretrained(resolved.location, gguf_file=resolved.gguf_file)
