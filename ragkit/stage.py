"""What every stage stands on: its settings type and the error for a pipeline that cannot be used.

Imports nothing else from ragkit, so that a stage, built in or a plugin, never
pulls in the YAML loader (``ragkit.config``) or the pipeline to declare its settings.
"""

from __future__ import annotations

import inspect

from pydantic import BaseModel, ConfigDict


class StageConfig(BaseModel):
    """Base class for every stage's ``Config``: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ConfigError(ValueError):
    """A pipeline that cannot be used, with a message that says where and how to fix it."""


def protocol_members(protocol: type) -> list[str]:
    """The public methods and properties a ``Protocol`` class asks for, its own and its bases'."""
    names: set[str] = set()
    for base in protocol.__mro__:
        if base is object or not getattr(base, "_is_protocol", False) or base.__module__ == "typing":
            continue
        names.update(name for name in (*vars(base), *getattr(base, "__annotations__", {})) if not name.startswith("_"))
    return sorted(names)


def check_stage(stage: object, kind: str, protocol: type) -> None:
    """Refuse a stage that lacks what its kind's protocol asks for, naming the class and what is missing."""
    missing = [name for name in protocol_members(protocol) if not _has(stage, name)]
    if missing:
        cls = type(stage)
        raise ConfigError(
            f"{cls.__module__}.{cls.__qualname__} cannot be the pipeline's {kind}: it has no "
            f"{', '.join(missing)} (see {protocol.__module__}.{protocol.__qualname__})"
        )


def _has(stage: object, name: str) -> bool:
    """Looked up without running a property: the embedder's ``max_tokens`` would load its model."""
    try:
        inspect.getattr_static(stage, name)
    except AttributeError:
        return False
    return True
