"""What an ingest will do to one root, decided from the walk and the manifest before any file is loaded."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from ragkit.ingest.manifest import Entry, Manifest, file_digest
from ragkit.types import Failed, IngestReport


@dataclass
class Work:
    """A file to load: new (``fresh``: no chunks of it can be in the store, so none need looking for) or changed.

    ``known``: the manifest's row of a file whose size is the same but whose mtime is new. Whether
    it changed is decided by the digest of the bytes read to load it, so it is read only once.
    """

    path: Path
    source: str
    is_new: bool
    fresh: bool
    known: Entry | None = None


@dataclass
class Plan:
    """Files to load, manifest rows to refresh (touched only), sources whose chunks go."""

    root: str
    work: list[Work] = field(default_factory=list)
    touched: list[Entry] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def plan(
    manifest: Manifest | None, root: str, files: list[tuple[Path, str]], folder: bool, prune: bool, report: IngestReport
) -> Plan:
    """Find the files to load (new or changed), to refresh (touched only) and to remove.

    Size and mtime unchanged means unchanged; a new size means changed; a file
    of the same size with a new mtime is work that carries its row (``known``):
    its digest, taken when it is read, tells a ``touch`` or a fresh checkout
    (nothing re-embedded) from an edit. No file is read here.
    """
    entries = manifest.entries(root) if manifest else {}
    pending = manifest.pending(root) if manifest else set()
    result = Plan(root)
    walked = set()
    for file_path, source in files:
        walked.add(source)
        entry = entries.get(source)
        try:
            stat = file_path.stat()
        except OSError as exc:
            report.failed.append(Failed(source, f"cannot read file: {exc.strerror or exc}"))
            result.removed.append(source)
            continue
        same = entry is not None and (entry.size, entry.mtime_ns) == (stat.st_size, stat.st_mtime_ns)
        if entry is None or source in pending or not same:
            maybe_touched = entry is not None and source not in pending and entry.size == stat.st_size
            fresh = entry is None and source not in pending
            result.work.append(Work(file_path, source, entry is None, fresh, entry if maybe_touched else None))
        else:
            report_unchanged(report, source, entry.error)
    # Only a folder ingest sees the whole root, so only it may decide that a file has gone.
    gone = {source for source in entries if source not in walked} if folder and prune else set()
    interrupted = pending - walked if folder else set()  # chunks a killed run left behind
    report.removed.extend(sorted((gone | interrupted) & entries.keys()))
    result.removed.extend(sorted(gone | interrupted))
    return result


def report_unchanged(report: IngestReport, source: str, error: str | None) -> None:
    """A file whose bytes are those already ingested: unchanged, or failed again for the reason its row keeps."""
    if error:
        report.failed.append(Failed(source, error))
    else:
        report.unchanged.append(source)


def settle_touched(planned: Plan, report: IngestReport) -> None:
    """Digest now each file that may only be touched: those holding the bytes already ingested leave the work
    for ``touched`` (a dry run, and the Ray engine, whose workers would load them all)."""
    work = []
    for item in planned.work:
        known = item.known
        if known is None:  # new, or its size changed: work without looking
            work.append(item)
            continue
        try:
            stat = item.path.stat()
            # "": an unsupported file, never read, whose row keeps its reason.
            same = known.digest == "" or file_digest(item.path) == known.digest
        except OSError:
            same = False
        if not same:
            work.append(item)
            continue
        planned.touched.append(replace(known, size=stat.st_size, mtime_ns=stat.st_mtime_ns))
        report_unchanged(report, item.source, known.error)
    planned.work = work
