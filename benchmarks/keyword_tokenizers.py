"""Chinese keyword search: character bigrams against jieba's words, measured.

For each Chinese segmenter the keyword index offers, builds the real BM25
index (``ragkit.indexes.bm25``) over the chunks of ``sample_docs/`` (English
and Chinese, the default loaders and chunker, nothing embedded) and asks:

- the Chinese questions of ``benchmarks/eval/zh_questions.jsonl`` (the five of
  tests/e2e_questions.json and our own, each with the file that answers it and
  an answer string): the file at rank 1 and in the top 3, the answer inside the
  first or the top 3 passages, and the file's mean reciprocal rank;
- with ``--debian-faq-zh DIR``, also the Debian FAQ in Simplified Chinese,
  added to the same index, its question headings asked as questions (gold: the
  page, and the passage that holds the heading; the table of contents is left
  out, it holds every heading). Get it with
  ``apt-get download debian-faq-zh-cn && dpkg-deb -x debian-faq-zh-cn_*.deb faq``
  and pass ``faq/usr/share/doc/debian/FAQ/zh-cn``.

It also times tokenizing and indexing, the cost an ingest pays. Run:
``python benchmarks/keyword_tokenizers.py [--debian-faq-zh DIR]``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ragkit.indexes.bm25 import BM25Index  # noqa: E402
from ragkit.loaders.walker import walk  # noqa: E402
from ragkit.pipeline import RAG  # noqa: E402
from ragkit.types import Chunk  # noqa: E402

SEGMENTERS = ("bigrams", "jieba")
HEADING = re.compile(r"<h[23] class=\"title\"[^>]*>(?:<a [^>]*></a>)?(?:[\d.]+\s*)?(.*?)</h[23]>", re.S)


def chunks_of(rag: RAG, folder: Path, prefix: str, skip: set[str] = frozenset()) -> list[Chunk]:
    """The chunks the pipeline would write for ``folder``; sources get ``prefix``."""
    loaders = {extension: loader for loader in rag.loaders for extension in loader.extensions}
    chunks: list[Chunk] = []
    for path, source in walk(folder, ["**/*"], [], False):
        loader = loaders.get(path.suffix.lower())
        if loader is None or source in skip:
            continue
        for document in loader.load(path.read_bytes(), source):
            document.metadata["source"] = prefix + source
            chunks.extend(rag.chunker.chunk(document))
    return chunks


def faq_questions(folder: Path) -> list[dict[str, str]]:
    """The FAQ's question headings (those ending in a question mark), with their page as gold."""
    questions = []
    for page in sorted(folder.glob("*.html")):
        for heading in HEADING.findall(page.read_text(encoding="utf-8")):
            text = re.sub(r"<[^>]+>", "", heading).strip()
            if text.endswith(("？", "?")):
                questions.append({"question": text, "file": "faq/" + page.name, "answer": text})
    return questions


def score(index: BM25Index, questions: list[dict[str, str]], k: int = 5) -> dict[str, float]:
    found = index.search([q["question"] for q in questions], k)
    ranks = []
    answer_at: list[int | None] = []
    for question, hits in zip(questions, found):
        files = [hit.metadata["source"] for hit in hits]
        ranks.append(files.index(question["file"]) + 1 if question["file"] in files else None)
        if "answer" in question:
            answer_at.append(next((n + 1 for n, hit in enumerate(hits) if question["answer"] in hit.text), None))
    total = len(questions)
    result = {
        "file@1": sum(rank == 1 for rank in ranks) / total,
        "file@3": sum(rank is not None and rank <= 3 for rank in ranks) / total,
        "file@5": sum(rank is not None for rank in ranks) / total,
        "mrr": sum(1 / rank for rank in ranks if rank) / total,
    }
    if answer_at:
        result["answer@1"] = sum(at == 1 for at in answer_at) / len(answer_at)
        result["answer@3"] = sum(at is not None and at <= 3 for at in answer_at) / len(answer_at)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--debian-faq-zh", type=Path, help="folder of the Debian FAQ's zh-cn HTML pages")
    args = parser.parse_args()

    rag = RAG.from_dict({})
    chunks = chunks_of(rag, REPO / "sample_docs", "")
    sets: dict[str, list[dict[str, Any]]] = {
        "sample_docs zh": [json.loads(line) for line in (REPO / "benchmarks/eval/zh_questions.jsonl").open(encoding="utf-8")]
    }
    if args.debian_faq_zh:
        chunks += chunks_of(rag, args.debian_faq_zh, "faq/", skip={"index.zh-cn.html"})
        sets["debian faq zh"] = faq_questions(args.debian_faq_zh)
    characters = sum(len(chunk.text) for chunk in chunks)
    print(f"{len(chunks)} chunks, {characters} characters; questions: " + ", ".join(f"{name} {len(qs)}" for name, qs in sets.items()))

    results: dict[str, Any] = {}
    for segmenter in SEGMENTERS:
        with tempfile.TemporaryDirectory() as folder:
            index = BM25Index(BM25Index.Config(chinese=segmenter), path=Path(folder))
            index.tokenizer("预热")  # load jieba's dictionary outside the timing
            started = time.perf_counter()
            index.upsert([chunk.id for chunk in chunks], chunks)
            index.refresh()
            seconds = time.perf_counter() - started
            results[segmenter] = {"index_seconds": round(seconds, 3), **{name: score(index, qs) for name, qs in sets.items()}}
    for name in sets:
        print(f"\n{name}")
        metrics = list(results[SEGMENTERS[0]][name])
        print(f"{'segmenter':10}" + "".join(f"{metric:>10}" for metric in metrics))
        for segmenter in SEGMENTERS:
            print(f"{segmenter:10}" + "".join(f"{results[segmenter][name][metric]:>10.3f}" for metric in metrics))
    base = results[SEGMENTERS[0]]["index_seconds"]
    print("\nindexing (tokenize + write + build): " + ", ".join(
        f"{s} {results[s]['index_seconds']:.2f} s ({results[s]['index_seconds'] / base:.2f}x)" for s in SEGMENTERS
    ))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
