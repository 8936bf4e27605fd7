"""What the ``ragkit`` command prints: reports, answers with their support, and text made safe for a terminal."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from ragkit.types import Answer, Hit, IngestReport

# Characters a terminal acts on instead of showing: C0 and C1 controls (ESC starts colour and title
# sequences), and the invisible marks that reorder or hide text (bidirectional overrides).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def location(hit: Hit) -> str:
    source = safe(hit.source)
    return f"{source} (page {hit.page})" if hit.page is not None else source


def safe(text: str, keep: str = "") -> str:
    """``text`` with the characters of ``_CONTROL`` escaped (``\\x1b``, ``\\n``) but those in ``keep``.

    File names and texts come from whoever wrote the files; printed raw, an
    ESC sequence in one could retitle or recolour the terminal, and a newline
    could forge a line of output. ``--json`` escapes them the same way.
    """
    return _CONTROL.sub(lambda match: match[0] if match[0] in keep else match[0].encode("unicode_escape").decode(), text)


class SafeFormatter(logging.Formatter):
    """Log messages name files too: escaped as ``safe`` does (a traceback after one keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return safe(super().formatMessage(record))


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def print_ingest_report(report: IngestReport) -> None:
    counts = (
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed, {len(report.failed)} failed"
        + (f", {len(report.skipped)} skipped" if report.skipped else "")
    )
    if report.dry_run:
        print(f"dry run, nothing written: {safe(report.root)} would have {counts}")
        for mark, sources in (("+", report.added), ("~", report.updated), ("-", report.removed)):
            for source in sources:
                print(f"  {mark} {safe(source)}")
        return
    print(
        f"{safe(report.root)}: {counts} ({report.files_seen} files seen); {report.files_loaded} loaded "
        f"({report.documents} documents), {report.chunks_written} chunks written, "
        f"{report.chunks_removed} removed in {report.seconds:.1f}s"
    )


def print_support(answer: Answer) -> None:
    """Cited passages first, each with the sentence that supports the answer; then the others, one line each."""
    if not answer.sources:
        return
    if not answer.abstained and not answer.grounded:
        print("(not supported by the passages: check it before relying on it)")
    cited = {citation.number: citation for citation in answer.citations}
    if cited:
        print("\nCited:")
        for number, citation in cited.items():
            print(f"  [{number}] {location(answer.sources[number - 1])}")
            print(f"      “{safe(' '.join(citation.span.split()))}”")
    others = [(number, hit) for number, hit in enumerate(answer.sources, start=1) if number not in cited]
    if others:
        print("\nOther passages:" if cited else "\nPassages:")
        for number, hit in others:
            print(f"  [{number}] {location(hit)}")
    if answer.invalid_citations:
        count = answer.invalid_citations
        print(f"(dropped {count} citation{'s' if count > 1 else ''} of the model's that no passage supports)")
