"""The sections of a pipeline that are not stages: loading, answering, serving; and a stage's place in the YAML.

Plain pydantic models on the ground floor (they import nothing above ``ragkit.stage``), so that the
ingest, the query path and the server read their settings without the YAML loader.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

class StageSpec(BaseModel):
    """One stage in a pipeline: its registered ``type`` and its parameters."""

    model_config = ConfigDict(extra="allow")

    type: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


# Every built-in loader: a folder ingest reads all the formats ragkit knows. docx, pptx and xlsx need
# the ``office`` extra; without it their files are listed as failed, with the install command.
DEFAULT_LOADERS = ("text", "markdown", "html", "pdf", "docx", "pptx", "xlsx", "csv", "epub", "rst", "json")


class RayConfig(BaseModel):
    """Where the Ray engine (``loading.engine: ray``) runs, and how it shares out the work (``ragkit.ingest.ray_engine``)."""

    model_config = ConfigDict(extra="forbid")

    # The cluster: the head's host:port (`ray start --head` prints it) or a ray:// client address;
    # unset, $RAY_ADDRESS; neither, Ray's own choice (a cluster started on this machine for the ingest).
    address: str | None = Field(default_factory=lambda: os.environ.get("RAY_ADDRESS") or None)
    # Actors that chunk and embed, each loading the embedder once; with ``gpus_per_actor`` each gets
    # that share of a GPU, and the embedder's ``device: auto`` picks it. ``cpus_per_actor`` is also the
    # actor's torch threads: on a CPU cluster, embed actors times it should leave CPUs for parsing.
    embed_actors: int = Field(default=1, ge=1)
    cpus_per_actor: float = Field(default=1.0, gt=0)
    gpus_per_actor: float = Field(default=0.0, ge=0)
    # Files parsed by one task and chunked and embedded by one actor call: small enough that files
    # stream to the driver's writes, large enough that each actor call embeds many chunks together.
    batch_size: int = Field(default=16, ge=1)


class LoadingConfig(BaseModel):
    """Which files a folder ingest picks up, which loaders read them, and how much is committed at once."""

    model_config = ConfigDict(extra="forbid")

    include: list[str] = Field(default_factory=lambda: ["**/*"])
    exclude: list[str] = Field(default_factory=list)
    follow_symlinks: bool = False
    # Chunks from several files embedded, written and committed together: large
    # enough to batch well, small enough that a crash loses little work.
    batch_chunks: int = Field(default=512, ge=1)
    # Processes that load and parse files (pypdf is the slow part) while this one chunks, embeds
    # and writes; "auto" is one per core, at most 8; 0 or 1 loads in this process. On 2 cores the
    # pool measured 1.10x on the PDF-heavy shared corpus but 0.81x on a small sample, where
    # embedding dominates (benchmarks/RESULTS.md); off by default also because spawned workers
    # re-import the caller's main module, which needs its `if __name__ == "__main__":`.
    workers: Annotated[int, Field(ge=0)] | Literal["auto"] = 0
    loaders: list[StageSpec] = Field(
        default_factory=lambda: [StageSpec(type=name) for name in DEFAULT_LOADERS]
    )
    # local: this process (and its loading pool); ray: a Ray cluster parses, chunks and embeds while
    # this process writes, into a Chroma server (``store.mode: server``). The same chunks either way.
    engine: Literal["local", "ray"] = "local"
    ray: RayConfig = Field(default_factory=RayConfig)

    def worker_count(self) -> int:
        """How many loading processes ``workers`` asks for on this machine."""
        return min(os.cpu_count() or 1, 8) if self.workers == "auto" else self.workers


class AnswerConfig(BaseModel):
    """How passages become the prompt's context, and how a reply is checked against them (``ragkit.grounding``)."""

    model_config = ConfigDict(extra="forbid")

    # The share of an answer's terms beyond the question's that the passages must hold for it to be
    # grounded, and of a sentence's for a passage to support it.
    min_support: float = Field(default=0.5, ge=0.0, le=1.0)
    # Abstain on an answer that is not grounded, instead of returning it marked ``grounded: false``.
    abstain_unsupported: bool = True
    # Abstain, without generating, when the question names an identifier (an option, a setting, a path)
    # that none of its passages contains: caught 9 of 17 near-domain questions on the English dev half.
    require_identifiers: bool = True
    # Ask once more for a sentence when the reply is a bare value ("10", "`prune`"), kept only if it keeps the value.
    complete_fragments: bool = True
    # Chunks of the same document added on each side of every retrieved passage before the prompt is
    # built (small-to-big, ``ragkit.neighbours``); 0: the passages as retrieved.
    neighbours: int = Field(default=0, ge=0, le=5)
    # Keep only this many sentences of each passage, those closest to the question (each with the one
    # after it), to shorten the prompt (``ragkit.compression``); 0: whole passages. 3: on the dev halves the
    # 1.5B answered 42 of 63 right with it against 43 with whole passages, in 8.3 s a question against 13.5
    # on this 2-core CPU (benchmarks/RESULTS.md).
    sentences: int = Field(default=3, ge=0)
    # The best-ranked passages left whole by that cut.
    whole_passages: int = Field(default=0, ge=0)


class ConversationConfig(BaseModel):
    """How a follow-up question of a conversation is made to stand alone before retrieval (``ragkit.conversation``).

    A question that already stands alone (``ragkit.followups.stands_alone``) is retrieved as asked, whatever
    ``rewrite`` says, so a first question costs nothing extra.
    """

    model_config = ConfigDict(extra="forbid")

    # generator: the generator rewrites the follow-up from the last turns; concat: the follow-up retrieved together
    # with the previous questions; blend: the follow-up as asked and that concatenation, both rankings fused by reciprocal
    # rank (no generation); fused: the rewrite's and the concatenation's rankings fused; none: the follow-up as asked.
    # blend: on the dev halves hit@5 0.870 of 23 English follow-ups (concat 0.783, none 0.870) and 0.714 of 7 Chinese
    # (all three the same), and no generation (the generator's rewrite: 0.571 in Chinese, 25-40 s a turn on the
    # loaded 2-core CPU; benchmarks/RESULTS.md).
    rewrite: Literal["generator", "concat", "blend", "fused", "none"] = "blend"
    # Earlier turns the rewrite and the concatenation look at.
    turns: int = Field(default=2, ge=1, le=10)


DEFAULT_TOKEN_ENV = "RAGKIT_API_TOKEN"


class ServerSettings(BaseModel):
    """What ``ragkit serve`` may do, and how it batches: the pipeline's ``server:`` section, which the
    command's options override.

    ``roots`` are the folders ``POST /v1/ingest`` may read; none disables it.
    The bearer token is read from the environment variable ``token_env`` when
    the app is created; it is required for every endpoint but the health
    checks and the page when the server listens on an address that is not a
    loopback one (decided from the socket bound, whatever ``host`` says), and
    always for ingest.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    roots: tuple[Path, ...] = ()
    token_env: str = DEFAULT_TOKEN_ENV
    max_batch: int = Field(default=8, ge=1)  # questions generated together; 1 serves them one at a time
    max_wait_ms: float = Field(default=5.0, ge=0)  # how long the first question of a batch waits for company
    max_queue: int = Field(default=1024, ge=1)  # waiting requests beyond this get 503
    max_body_bytes: int = Field(default=256 * 1024, ge=1)
    max_question_chars: int = Field(default=2000, ge=1)
    max_chat_chars: int = Field(default=32_000, ge=1)  # all messages of a chat completion together
    max_k: int = Field(default=50, ge=1)

    @field_validator("roots")
    @classmethod
    def _absolute(cls, roots: tuple[Path, ...]) -> tuple[Path, ...]:
        """Resolved once, here, so that every check of an ingest path compares real paths."""
        return tuple(Path(root).resolve() for root in roots)
