"""Building one stage: its class from the registry, its dependencies handed in by type, its protocol checked.

Only ``ragkit.pipeline`` builds stages; this is the part of it that is the same for every kind.
"""

from __future__ import annotations

import inspect
import types
import typing
from functools import partial
from typing import Any

from ragkit import registry
from ragkit.augmenters.base import Augmenter
from ragkit.chunkers.base import Chunker, TokenCounter
from ragkit.config import PipelineConfig
from ragkit.embedders.base import Embedder
from ragkit.generators.base import Generator
from ragkit.indexes.base import KeywordIndex
from ragkit.loaders.base import Loader
from ragkit.rerankers.base import Reranker
from ragkit.retrievers.base import Retriever
from ragkit.stage import ConfigError, check_stage
from ragkit.stores.base import VectorStore

# The protocol each kind's stages are checked against when built.
PROTOCOLS: dict[str, type] = {
    "loader": Loader, "chunker": Chunker, "embedder": Embedder, "store": VectorStore, "index": KeywordIndex,
    "retriever": Retriever, "reranker": Reranker, "augmenter": Augmenter, "generator": Generator,
}


def build_stage(kind: str, *, config: PipelineConfig, stage_configs: dict[str, Any], provided: dict[Any, Any]) -> Any:
    """The stage of ``kind``, handed what its constructor asks for by type, and checked against its protocol."""
    cls, stage_config = registry.get(kind, getattr(config, kind).type), stage_configs[kind]
    if hasattr(cls, "choose"):  # a type that stands for another, picked for this machine (generator type auto)
        name, params = cls.choose(stage_config)
        cls = registry.get(kind, name)
        stage_config = cls.Config.model_validate(params)
    return checked(cls(stage_config, **_dependencies(cls, provided)), kind)


def ingest_stages(config: PipelineConfig) -> tuple[Embedder, Chunker]:
    """The embedder and the chunker, built as the pipeline builds them: how a worker of a distributed ingest,
    handed ``partial(ingest_stages, config)``, makes chunks and vectors identical to the pipeline's own.

    The chunker is handed the embedder (as its ``TokenCounter``) and nothing else a worker lacks.
    """
    provided: dict[Any, Any] = {}
    build = partial(build_stage, config=config, stage_configs=config.stage_configs(), provided=provided)
    embedder = build("embedder")
    provided.update({Embedder: embedder, TokenCounter: embedder})
    return embedder, build("chunker")


def checked(stage: Any, kind: str) -> Any:
    """``stage``, once it has what ``kind``'s protocol asks for (else a ``ConfigError`` naming what it lacks)."""
    check_stage(stage, kind, PROTOCOLS[kind])
    return stage


def _dependencies(cls: type, provided: dict[Any, Any]) -> dict[str, Any]:
    """The constructor's keyword-only parameters, each filled with what the pipeline built of the type it names.

    ``KeywordIndex | None`` takes the index or None; a parameter with a default
    that names nothing built keeps its default.
    """
    try:
        hints = typing.get_type_hints(cls.__init__, localns=dict(vars(cls)))  # the nested Config too
    except Exception as exc:  # a name only imported under TYPE_CHECKING, say
        raise ConfigError(f"cannot read the types {cls.__qualname__}.__init__ asks for ({exc})") from None
    found: dict[str, Any] = {}
    for parameter in inspect.signature(cls.__init__).parameters.values():
        if parameter.kind is not parameter.KEYWORD_ONLY:
            continue
        wanted = hints.get(parameter.name)
        options = typing.get_args(wanted) if isinstance(wanted, types.UnionType) else (wanted,)
        match = next((option for option in options if option in provided), None)
        if match is not None:
            found[parameter.name] = provided[match]
        elif parameter.default is parameter.empty:
            offered = ", ".join(sorted(getattr(key, "__name__", str(key)) for key in provided))
            raise ConfigError(
                f"{cls.__module__}.{cls.__qualname__} asks for `{parameter.name}: {getattr(wanted, '__name__', wanted)}`, "
                f"which the pipeline does not build; a stage may ask for: {offered}"
            )
    return found
