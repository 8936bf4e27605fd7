"""What table-aware PDF extraction would cost: pypdf's plain text (what the PDF loader reads) against its layout
mode and pdfplumber's table finder, page for page over the same PDFs.

    python benchmarks/pdf_tables.py /tmp/corpus/full --json benchmarks/results/pdf-tables.json
    python benchmarks/pdf_tables.py /tmp/corpus/full --files 10          # the first 10 PDFs only

Issue 15 asks for tables in PDFs to keep their rows together and their header row, and for that
to slow the ingest of the shared corpus by at most 20%. Each PDF is read once into memory; then
its pages are extracted three ways in turn, each timed: pypdf ``extract_text()`` (the baseline),
pypdf ``extract_text(extraction_mode="layout")`` (columns kept by spacing) and pdfplumber's
``find_tables()`` (ruled or aligned cells). Printed: the seconds of each, their ratio to the
baseline, and how many pages pdfplumber finds a table on (at least 2 rows and 2 columns), per
file group. The extra seconds are what an ingest would add; compare them with a full ingest's time
on the same machine (``benchmarks/ingest.py``). pdfplumber is not a dependency of ragkit: install
it to run this (``pip install pdfplumber``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import pdfplumber
import pypdf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=None, help="only the first N PDFs (sorted by path)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    paths = sorted(args.folder.rglob("*.pdf"))[: args.files]
    rows = [_measure(path) for path in paths]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(_group(row["file"]), []).append(row)
    summary = {name: _totals(members) for name, members in sorted(groups.items())} | {"all": _totals(rows)}
    for name, totals in summary.items():
        print(
            f"{name:8s} {totals['files']:4d} files {totals['pages']:6d} pages  plain {totals['plain_s']:7.1f} s  "
            f"layout {totals['layout_s']:7.1f} s (x{totals['layout_ratio']:.2f})  pdfplumber tables "
            f"{totals['tables_s']:7.1f} s (x{totals['tables_ratio']:.2f})  pages with a table {totals['table_pages']}"
        )
    if args.json:
        args.json.write_text(json.dumps({"command": " ".join(["python", *sys.argv]), "summary": summary, "files": rows}, indent=2))
    return 0


def _measure(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    reader = pypdf.PdfReader(io.BytesIO(data))
    started = time.perf_counter()
    for page in reader.pages:
        page.extract_text()
    plain = time.perf_counter() - started
    started = time.perf_counter()
    for page in reader.pages:
        page.extract_text(extraction_mode="layout")
    layout = time.perf_counter() - started
    started = time.perf_counter()
    table_pages = 0
    with pdfplumber.open(io.BytesIO(data)) as pdf:
        for page in pdf.pages:
            tables = page.find_tables()
            table_pages += any(len(table.rows) >= 2 and len(table.rows[0].cells) >= 2 for table in tables)
            page.flush_cache()  # pdfplumber keeps every parsed page otherwise
    tables_s = time.perf_counter() - started
    row = {
        "file": str(path), "pages": len(reader.pages), "plain_s": plain, "layout_s": layout,
        "tables_s": tables_s, "table_pages": table_pages,
    }
    print(f"{path.name:60s} {row['pages']:4d} p  plain {plain:6.2f}  layout {layout:6.2f}  tables {tables_s:6.2f}  "
          f"table pages {table_pages}", file=sys.stderr, flush=True)
    return row


def _group(file: str) -> str:
    name = Path(file).name
    return "R" if name.startswith("R__") else "LaTeX" if "texlive" in name else "other"


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    plain = sum(row["plain_s"] for row in rows)
    layout = sum(row["layout_s"] for row in rows)
    tables = sum(row["tables_s"] for row in rows)
    return {
        "files": len(rows), "pages": sum(row["pages"] for row in rows), "plain_s": round(plain, 2),
        "layout_s": round(layout, 2), "tables_s": round(tables, 2),
        "layout_ratio": round(layout / plain, 3) if plain else None,
        "tables_ratio": round(tables / plain, 3) if plain else None,
        "table_pages": sum(row["table_pages"] for row in rows),
    }


if __name__ == "__main__":
    raise SystemExit(main())
