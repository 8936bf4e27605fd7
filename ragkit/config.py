"""Pipeline configuration: YAML in, validated pydantic models out.

A pipeline file names each stage by ``type:`` plus that stage's parameters.
The top level is checked here; each stage's parameters are checked against
the ``Config`` model of the class the registry returns, so a typo fails with
the file, the line, the key and the keys that are allowed.
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ragkit import registry
from ragkit.files import read_text_limited
from ragkit.settings import AnswerConfig, ConversationConfig, LoadingConfig, ServerSettings, StageSpec
from ragkit.stage import ConfigError, StageConfig

__all__ = [
    "AnswerConfig", "ConfigError", "ConversationConfig", "LoadingConfig", "PipelineConfig", "ServerSettings", "StageConfig", "StageSpec",
    "load_config", "load_yaml",
]

# A pipeline file is a screenful of YAML; the limit stops a wrong path (a device, a data file) early.
MAX_PIPELINE_BYTES = 1024 * 1024


class PipelineConfig(BaseModel):
    """A whole pipeline: ingestion stages and query stages."""

    model_config = ConfigDict(extra="forbid")

    name: str = "default"
    loading: LoadingConfig = Field(default_factory=LoadingConfig)
    chunker: StageSpec = Field(default_factory=lambda: StageSpec(type="recursive"))
    embedder: StageSpec = Field(default_factory=lambda: StageSpec(type="sentence-transformers"))
    store: StageSpec = Field(default_factory=lambda: StageSpec(type="chroma"))
    # A keyword index kept beside the store; the keyword and hybrid retrievers search it. None: no index.
    index: StageSpec | None = Field(default_factory=lambda: StageSpec(type="bm25"))
    # Hybrid by measurement: hit@5 1.000 against dense's 0.919 on the Debian FAQ dev set (benchmarks/RESULTS.md).
    retriever: StageSpec = Field(default_factory=lambda: StageSpec(type="hybrid"))
    # Re-scores the retriever's candidates and keeps the best; None: the retriever's order stands.
    reranker: StageSpec | None = None
    augmenter: StageSpec = Field(default_factory=lambda: StageSpec(type="template"))
    # ``auto``: transformers on a GPU, llama.cpp on a CPU where it is installed (``ragkit.generators.auto``).
    generator: StageSpec = Field(default_factory=lambda: StageSpec(type="auto"))
    answer: AnswerConfig = Field(default_factory=AnswerConfig)
    conversation: ConversationConfig = Field(default_factory=ConversationConfig)
    server: ServerSettings = Field(default_factory=ServerSettings)
    # The folder for ragkit's own files of this collection (ingest manifest, store lock, keyword index). None:
    # the store's own folder when its data is on this machine, else .ragkit/state/<host>_<port> (ragkit.ingest.state).
    state: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_stage_types(cls, data: Any) -> Any:
        """A stage given without ``type`` is the default stage with those settings: ``embedder: {device: cpu}``."""
        if not isinstance(data, dict):
            return data
        filled = dict(data)
        for kind, field in cls.model_fields.items():
            section = data.get(kind)
            if isinstance(section, dict) and "type" not in section and field.default_factory is not None:
                default = field.default_factory()  # type: ignore[call-arg]
                if isinstance(default, StageSpec):
                    filled[kind] = {"type": default.type, **section}
        return filled

    def stage_configs(self) -> dict[str, StageConfig]:
        """Each single stage's validated ``Config``, keyed by kind; optional stages only when present."""
        configs = {kind: _stage_config(kind, spec, (kind,)) for kind in SINGLE_STAGES if (spec := getattr(self, kind))}
        if getattr(registry.get("retriever", self.retriever.type), "needs_index", False) and self.index is None:
            raise _StageError(
                ("retriever", "type"),
                f"retriever type {self.retriever.type!r} searches a keyword index, but the pipeline has none; "
                "add `index: {type: bm25}` (as pipelines/hybrid.yaml does) or use retriever type 'dense'",
            )
        return configs

    def loader_configs(self) -> list[tuple[str, StageConfig]]:
        """The validated ``Config`` of each loader, with its ``type`` name."""
        return [
            (spec.type, _stage_config("loader", spec, ("loading", "loaders", index)))
            for index, spec in enumerate(self.loading.loaders)
        ]


# Stages that appear once in a pipeline, in the order they are built; ``index`` and ``reranker`` may be None.
SINGLE_STAGES = ("chunker", "embedder", "store", "index", "retriever", "reranker", "augmenter", "generator")


class _StageError(ConfigError):
    """A stage validation problem; ``load_config`` adds the file and line, and built from a ``PipelineConfig``
    directly it still reads as a ``ConfigError`` naming the key."""

    def __init__(self, path: tuple[str | int, ...], message: str):
        super().__init__(f"{'.'.join(str(part) for part in path)}: {message}")
        self.path = path
        self.message = message


def _stage_config(kind: str, spec: StageSpec, where: tuple[str | int, ...]) -> StageConfig:
    try:
        cls = registry.get(kind, spec.type)
    except registry.UnknownStageError as exc:
        raise _StageError((*where, "type"), str(exc)) from None
    try:
        config: StageConfig = cls.Config.model_validate(spec.params)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        allowed = ", ".join(["type", *cls.Config.model_fields])
        if error["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r} for {kind} type {spec.type!r}; allowed keys: {allowed}"
        else:
            message = f"{error['msg']} (allowed keys for {kind} type {spec.type!r}: {allowed})"
        raise _StageError((*where, *loc), message) from None
    return config


_ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def interpolate_env(value: Any) -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a loaded YAML tree."""
    if isinstance(value, dict):
        return {key: interpolate_env(item) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate_env(item) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"environment variable {name} is not set and has no default (write ${{{name}:-default}})")

    return _ENV_PATTERN.sub(substitute, value)


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied key by key (nested dicts merge, the rest replaces)."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_config(data: dict[str, Any], *, origin: str = "<dict>", lines: dict[tuple, int] | None = None) -> PipelineConfig:
    """Validate a pipeline given as a dict; errors name ``origin`` and, for files, the line."""
    data = interpolate_env(data)
    try:
        config = PipelineConfig.model_validate(data)
        config.stage_configs()
        config.loader_configs()
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc[:-1])
            message = f"unknown key {loc[-1]!r}; allowed keys: {allowed}"
        else:
            message = error["msg"]
        raise ConfigError(_located(origin, lines, loc, message)) from None
    except _StageError as exc:
        raise ConfigError(_located(origin, lines, exc.path, exc.message)) from None
    return config


def load_yaml(path: str | Path, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read and validate a pipeline file (``yaml.safe_load`` only, without aliases)."""
    path = Path(path)
    try:
        text = read_text_limited(path, MAX_PIPELINE_BYTES, "pipeline file")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        _refuse_aliases(text, path)
        data = yaml.safe_load(text) or {}
        lines = _key_lines(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a pipeline file must be a mapping of stage names to settings")
    return load_config(deep_merge(data, overrides or {}), origin=str(path), lines=lines)


def _refuse_aliases(text: str, path: Path) -> None:
    """Refuse ``*alias`` references, checked on the parser's events before anything is built.

    Aliases to aliases nest: a few hundred bytes can stand for billions of
    nodes, which every walk over the tree (key lines, environment variables,
    validation) would expand. Pipelines do not need them.
    """
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise ConfigError(
                f"{path}, line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not allowed in a "
                "pipeline file; write the value out where it is used"
            )


def _allowed_keys(loc: tuple[str | int, ...]) -> str:
    model: type[BaseModel] = PipelineConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field else None
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    return ", ".join(model.model_fields)


def _located(origin: str, lines: dict[tuple, int] | None, loc: tuple[str | int, ...], message: str) -> str:
    key = ".".join(str(part) for part in loc) or "<top>"
    line = None
    if lines:
        for end in range(len(loc), 0, -1):
            line = lines.get(tuple(loc[:end]))
            if line is not None:
                break
    where = f"{origin}, line {line}" if line else origin
    return f"{where}: {key}: {message}"


def _key_lines(text: str) -> dict[tuple, int]:
    """Map each key path in a YAML document to the 1-based line where it appears."""
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key_path = (*path, key_node.value)
                lines[key_path] = key_node.start_mark.line + 1
                walk(value_node, key_path)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                walk(item, (*path, index))

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        walk(root, ())
    return lines
