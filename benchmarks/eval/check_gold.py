"""Check an answer set against the corpus: every gold string must occur in its gold file's extracted text.

Usage::

    python benchmarks/eval/check_gold.py --corpus /tmp/corpus/full benchmarks/eval/answers_en.jsonl
    python benchmarks/eval/check_gold.py --corpus /tmp/corpus_zh/full benchmarks/eval/answers_zh.jsonl
    python benchmarks/eval/check_gold.py --corpus en=/tmp/corpus/full --corpus zh=/tmp/corpus_zh/full benchmarks/eval/conversations.jsonl

The text is what ragkit's own loaders extract (per page for a PDF, so a gold
``page`` is checked on that page alone), compared the way ``ragkit eval``
compares answers: NFKC, case-folded, runs of white space as one space. A gold
answer is a list whose items are strings (each required) or lists of strings
(alternatives: one of them required); every alternative is checked, since any
of them counts as right. Questions with ``"answers": []`` are unanswerable and
have nothing to check. ``corpus`` in a line (``en`` or ``zh``) picks the
corpus when a set spans both (pass ``--corpus en=PATH --corpus zh=PATH``).
Exits 1 when any line fails, listing each.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ragkit.evaluation import normalize_for_match
from ragkit.loaders.html import HtmlLoader
from ragkit.loaders.markdown import MarkdownLoader
from ragkit.loaders.pdf import PdfLoader
from ragkit.loaders.text import TextLoader

LOADERS = {ext: loader for loader in (TextLoader(), MarkdownLoader(), HtmlLoader(), PdfLoader()) for ext in loader.extensions}


def extracted_pages(path: Path) -> dict[int | None, str]:
    """The normalised text of each page (``None``: a file without pages), as ragkit's loaders read it."""
    documents = LOADERS[path.suffix.lower()].load(path.read_bytes(), path.name)
    pages: dict[int | None, str] = {}
    for document in documents:
        page = document.metadata.get("page")
        pages[page] = pages.get(page, "") + " " + normalize_for_match(document.text)
    return pages


def alternatives(answers: list) -> list[str]:
    return [text for item in answers for text in ([item] if isinstance(item, str) else item)]


def turns(lines: list[dict]) -> list[dict]:
    """Each conversation's turns as lines of their own (with its corpus), other lines as they are."""
    flat = []
    for item in lines:
        if "turns" not in item:
            flat.append(item)
            continue
        for number, turn in enumerate(item["turns"], start=1):
            flat.append({**turn, "id": f"{item.get('id')} turn {number}", "corpus": item.get("corpus", "default")})
    return flat


def check(lines: list[dict], corpora: dict[str, Path]) -> list[str]:
    """One message per failing line (per failing turn of a conversation)."""
    lines = turns(lines)
    cache: dict[Path, dict[int | None, str]] = {}
    problems = []
    for number, item in enumerate(lines, start=1):
        label = f"line {number} ({item.get('id')})"
        answers = item.get("answers")
        if answers == []:
            continue
        if not answers or not item.get("file"):
            problems.append(f"{label}: an answerable question needs 'answers' and 'file'")
            continue
        root = corpora.get(item.get("corpus", "default"), corpora.get("default"))
        if root is None:
            problems.append(f"{label}: no --corpus given for corpus {item.get('corpus')!r}")
            continue
        path = root / item["file"]
        if not path.is_file():
            problems.append(f"{label}: no file {path}")
            continue
        if path not in cache:
            cache[path] = extracted_pages(path)
        pages = cache[path]
        page = item.get("page")
        if page is not None and page not in pages:
            problems.append(f"{label}: {item['file']} has no page {page}")
            continue
        text = pages[page] if page is not None else " ".join(pages.values())
        for gold in alternatives(answers):
            if normalize_for_match(gold) not in text:
                where = f"{item['file']}" + (f" page {page}" if page is not None else "")
                problems.append(f"{label}: gold {gold!r} is not in {where}")
    return problems


def parse_corpora(values: list[str]) -> dict[str, Path]:
    corpora = {}
    for value in values:
        name, _, path = value.rpartition("=")
        corpora[name or "default"] = Path(path)
    return corpora


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", required=True, help="PATH, or NAME=PATH for a line's 'corpus'")
    parser.add_argument("sets", nargs="+", type=Path)
    args = parser.parse_args()
    corpora = parse_corpora(args.corpus)
    failed = 0
    for path in args.sets:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        problems = check(lines, corpora)
        failed += len(problems)
        for problem in problems:
            print(f"{path}: {problem}")
        print(f"{path}: {len(lines)} lines, {len(problems)} problems")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
