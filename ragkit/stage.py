"""What every stage stands on: its settings type and the error for a pipeline that cannot be used.

Imports nothing else from ragkit, so that a stage, built in or a plugin, never
pulls in the YAML loader (``ragkit.config``) or the pipeline to declare its settings.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StageConfig(BaseModel):
    """Base class for every stage's ``Config``: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class ConfigError(ValueError):
    """A pipeline that cannot be used, with a message that says where and how to fix it."""
