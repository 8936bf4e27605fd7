import subprocess
import sys
from pathlib import Path

import pytest

from ragkit import registry
from ragkit.config import ConfigError, load_config
from ragkit.pipeline import RAG
from ragkit.types import Document

PLUGIN = Path(__file__).parent / "plugins" / "ragkit_demo_plugin"


def test_builtin_names_per_kind() -> None:
    assert registry.names("loader") == ["csv", "docx", "epub", "html", "json", "markdown", "pdf", "pptx", "rst", "text", "xlsx"]
    assert {"recursive", "sentence"} <= set(registry.names("chunker"))
    assert "chroma" in registry.names("store")
    assert "transformers" in registry.names("generator")


def test_builtin_classes_have_a_config_model() -> None:
    for kind in registry.KINDS:
        for name in registry.names(kind):
            cls = registry.get(kind, name)
            assert cls.Config.model_config.get("extra") == "forbid", f"{kind}.{name}"


def test_unknown_name_and_kind_errors() -> None:
    with pytest.raises(registry.UnknownStageError, match="registered chunker types: .*recursive"):
        registry.get("chunker", "nope")
    with pytest.raises(ValueError, match="unknown stage kind"):
        registry.get("splitter", "recursive")


def test_in_process_registration() -> None:
    class Custom:
        pass

    registry.register("retriever", "test-custom", Custom)
    assert registry.get("retriever", "test-custom") is Custom
    assert "test-custom" in registry.names("retriever")


@pytest.fixture()
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip-installs the demo plugin package into a folder put on sys.path, as a user's venv would have it."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(PLUGIN)],
        check=True,
    )
    monkeypatch.syspath_prepend(str(target))
    registry.refresh()
    yield
    registry.refresh()


def test_plugin_registers_through_entry_points(installed_plugin: None, tmp_path: Path) -> None:
    assert "fixed" in registry.names("chunker")
    rag = RAG.from_dict({"chunker": {"type": "fixed", "width": 4}, "store": {"type": "chroma", "path": str(tmp_path / "s")}})
    chunks = rag.chunker.chunk(Document("abcdefghij", {"source": "x.txt"}))
    assert [chunk.text for chunk in chunks] == ["abcd", "efgh", "ij"]
    with pytest.raises(ConfigError, match="unknown key 'wdth'.*allowed keys: type, width"):
        load_config({"chunker": {"type": "fixed", "wdth": 4}})
