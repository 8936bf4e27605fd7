import os
import time
from pathlib import Path

import pytest

from ragkit.config import ConfigError, PipelineConfig, interpolate_env, load_config, load_yaml

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((REPO / "pipelines").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_pipeline_validates(path: Path) -> None:
    config = load_yaml(path)
    stages = config.stage_configs()
    optional = {kind for kind in ("index", "reranker") if getattr(config, kind) is not None}
    assert set(stages) == {"chunker", "embedder", "store", "retriever", "augmenter", "generator"} | optional
    loaders = ["text", "markdown", "html", "pdf", "docx", "pptx", "xlsx", "csv", "epub", "rst", "json"]
    assert [name for name, _ in config.loader_configs()] == loaders


def test_default_yaml_spells_out_the_built_in_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAGKIT_STORE", raising=False)
    from_file = load_yaml(REPO / "pipelines" / "default.yaml")
    built_in = PipelineConfig()
    assert from_file.stage_configs() == built_in.stage_configs()
    assert from_file.loader_configs() == built_in.loader_configs()
    assert from_file.loading.model_dump(exclude={"loaders"}) == built_in.loading.model_dump(exclude={"loaders"})


def test_ragkit_store_moves_the_store_with_or_without_a_pipeline_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGKIT_STORE", "/data/elsewhere")
    from_file = load_yaml(REPO / "pipelines" / "default.yaml")
    assert from_file.stage_configs()["store"].path == PipelineConfig().stage_configs()["store"].path == "/data/elsewhere"


def test_loading_workers_are_auto_a_count_or_none() -> None:
    assert PipelineConfig().loading.worker_count() == 0
    assert 1 <= load_config({"loading": {"workers": "auto"}}).loading.worker_count() <= 8
    assert load_config({"loading": {"workers": 3}}).loading.worker_count() == 3
    assert load_config({"loading": {"workers": 0}}).loading.worker_count() == 0
    with pytest.raises(ConfigError, match="loading.workers"):
        load_config({"loading": {"workers": -1}})


def test_typo_in_stage_key_names_file_line_key_and_allowed(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nchunker:\n  type: recursive\n  sise: 100\n")
    with pytest.raises(ConfigError) as error:
        load_yaml(path)
    message = str(error.value)
    assert f"{path}, line 4" in message
    assert "chunker.sise" in message
    assert "allowed keys: type, size, overlap, unit" in message


def test_typo_at_top_level_lists_allowed_sections(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: x\nretreiver:\n  type: dense\n")
    with pytest.raises(ConfigError) as error:
        load_yaml(path)
    assert "line 2" in str(error.value)
    assert "retreiver" in str(error.value)
    assert "retriever" in str(error.value) and "generator" in str(error.value)


def test_wrong_type_of_value_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("retriever:\n  type: dense\n  top_k: many\n")
    with pytest.raises(ConfigError) as error:
        load_yaml(path)
    assert "line 3" in str(error.value) and "retriever.top_k" in str(error.value)
    assert "integer" in str(error.value)


def test_unknown_type_lists_the_registered_ones(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("store:\n  type: pinecone\n")
    with pytest.raises(ConfigError) as error:
        load_yaml(path)
    message = str(error.value)
    assert "line 2" in message and "unknown store type 'pinecone'" in message
    assert "chroma" in message


def test_loader_errors_point_into_the_loaders_list(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("loading:\n  loaders:\n    - type: text\n    - type: pdf\n      passwrd: x\n")
    with pytest.raises(ConfigError) as error:
        load_yaml(path)
    assert "line 5" in str(error.value) and "loading.loaders.1.passwrd" in str(error.value)


def test_overlap_not_smaller_than_size_is_rejected() -> None:
    with pytest.raises(ConfigError, match="overlap"):
        load_config({"chunker": {"type": "recursive", "size": 50, "overlap": 50}})


def test_env_interpolation_with_and_without_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGKIT_TEST_PATH", "/data/store")
    monkeypatch.delenv("RAGKIT_TEST_MISSING", raising=False)
    data = {"a": "${RAGKIT_TEST_PATH}/x", "b": ["${RAGKIT_TEST_MISSING:-fallback}"], "c": 3}
    assert interpolate_env(data) == {"a": "/data/store/x", "b": ["fallback"], "c": 3}
    with pytest.raises(ConfigError, match="RAGKIT_TEST_MISSING"):
        interpolate_env("${RAGKIT_TEST_MISSING}")


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("name: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_yaml(path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read pipeline file"):
        load_yaml(tmp_path / "nope.yaml")


def test_a_stage_without_type_is_the_default_stage_with_those_settings(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("index: null\nretriever:\n  type: dense\n")
    config = load_yaml(path, overrides={"embedder": {"show_progress": False}, "chunker": {"size": 120}})
    assert config.embedder.type == "sentence-transformers" and config.embedder.params == {"show_progress": False}
    assert config.chunker.type == "recursive" and config.stage_configs()["chunker"].size == 120
    with pytest.raises(ConfigError, match="reranker.type"):  # no default reranker to fill in
        load_config({"reranker": {"candidates": 10}})


def test_a_yaml_alias_bomb_fails_at_once_naming_the_file(tmp_path: Path) -> None:
    """Nine levels of nine aliases each: 500 bytes that stand for 9**9 strings."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        levels.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("name:\n  " + "\n  ".join(levels) + "\n")
    assert 400 < path.stat().st_size < 600
    started = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        load_yaml(path)
    assert time.monotonic() - started < 0.5
    assert str(refused.value) == (
        f"{path}, line 3: YAML aliases (*a0) are not allowed in a pipeline file; write the value out where it is used"
    )


def test_a_pipeline_file_that_is_not_a_small_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "p.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=f"^pipeline file {fifo} is a FIFO \\(named pipe\\), not a regular file"):
        load_yaml(fifo)
    with pytest.raises(ConfigError, match="^pipeline file /dev/zero is a character device"):
        load_yaml("/dev/zero")


def test_the_server_section_is_checked_and_its_roots_resolved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config({"server": {"port": 9001, "roots": ["docs"], "max_batch": 1}})
    assert (config.server.port, config.server.roots, config.server.max_batch) == (9001, (tmp_path / "docs",), 1)
    with pytest.raises(ConfigError, match=r"server\.prot: unknown key 'prot'; allowed keys: host, port, roots"):
        load_config({"server": {"prot": 9001}})
