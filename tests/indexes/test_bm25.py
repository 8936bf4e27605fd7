"""The BM25 index with the real bm25s and SQLite: incremental writes, persistence, filters, both languages."""

from pathlib import Path

import pytest

from ragkit.indexes.bm25 import BM25Index
from ragkit.types import Chunk

NOTES = {
    "osprey": ("The osprey dives for fish near harbor 7.", {"source": "birds.md", "file_type": "md", "ordinal": 0}),
    "heron": ("A grey heron waits in the reeds; herons are patient.", {"source": "birds.md", "file_type": "md", "ordinal": 1}),
    "kestrel": ("The kestrel hovers above the field.", {"source": "field.pdf", "file_type": "pdf", "page": 2, "ordinal": 0}),
    "plover": ("Plovers run along the shore at low tide.", {"source": "field.pdf", "file_type": "pdf", "page": 3, "ordinal": 0}),
    "zh": ("星河-3 嵌入模型的向量维度是 512。", {"source": "zh/向量.md", "file_type": "md", "ordinal": 0}),
}


def _index(path: Path, **settings: object) -> BM25Index:
    return BM25Index(BM25Index.Config(**settings), path=path)


def _add(index: BM25Index, *names: str) -> None:
    index.upsert(list(names), [Chunk(NOTES[name][0], NOTES[name][1]) for name in names])


@pytest.fixture()
def index(tmp_path: Path) -> BM25Index:
    index = _index(tmp_path / "bm25")
    _add(index, *NOTES)
    return index


def _ids(index: BM25Index, query: str, k: int = 5, where: dict | None = None) -> list[str]:
    return [hit.id for hit in index.search([query], k, where)[0]]


def test_finds_chunks_by_their_words_best_first(index: BM25Index) -> None:
    hits = index.search(["where does the heron wait?", "harbor 7"], 3)
    assert hits[0][0].id == "heron" and hits[1][0].id == "osprey"
    assert hits[0][0].text == NOTES["heron"][0] and hits[0][0].metadata == NOTES["heron"][1]
    scores = [hit.score for hit in hits[0]]
    assert scores == sorted(scores, reverse=True) and all(score > 0 for score in scores)
    assert index.count() == len(NOTES)


def test_only_chunks_sharing_a_term_are_hits(index: BM25Index) -> None:
    assert _ids(index, "penguin glacier", k=10) == []
    assert _ids(index, "", k=10) == []
    assert _ids(index, "kestrel", k=100) == ["kestrel"]  # k above the chunk count is fine


def test_changed_and_removed_chunks_are_searched_as_they_are_now(index: BM25Index) -> None:
    index.upsert(["heron"], [Chunk("A heron was ringed with tag 4471.", NOTES["heron"][1])])
    assert _ids(index, "reeds patient") == []
    assert _ids(index, "ringed 4471") == ["heron"]
    index.delete(["osprey", "kestrel"])
    assert _ids(index, "osprey kestrel fish") == []
    assert index.count() == len(NOTES) - 2
    _add(index, "osprey")
    assert _ids(index, "osprey") == ["osprey"]
    index.clear()
    assert index.count() == 0 and index.search(["heron"], 5) == [[]]


def test_a_new_instance_loads_the_saved_matrix_and_sees_later_writes(index: BM25Index, tmp_path: Path) -> None:
    index.refresh()
    saved = sorted(path.name for path in (tmp_path / "bm25").glob("built-*"))
    assert len(saved) == 1
    other = _index(tmp_path / "bm25")
    assert _ids(other, "heron") == ["heron"]
    assert sorted(path.name for path in (tmp_path / "bm25").glob("built-*")) == saved  # loaded, not rebuilt
    index.upsert(["heron"], [Chunk("Now about cormorants.", NOTES["heron"][1])])
    assert _ids(other, "cormorants") == ["heron"]  # the other process sees the write
    assert len(list((tmp_path / "bm25").glob("built-*"))) == 1  # the stale matrix is gone


def test_where_filters_on_stored_metadata(index: BM25Index) -> None:
    query = "heron osprey kestrel plover"
    assert set(_ids(index, query, where={"file_type": "pdf"})) == {"kestrel", "plover"}
    assert _ids(index, query, where={"page": 3}) == ["plover"]
    assert _ids(index, query, where={"file_type": "pdf", "source": "birds.md"}) == []
    assert _ids(index, query, where={"source": "birds.md", "ordinal": 1}) == ["heron"]
    with pytest.raises(ValueError, match="KEY=VALUE"):
        index.search([query], 5, {"$or": [{"page": 2}, {"page": 3}]})


@pytest.mark.parametrize("chinese", ["bigrams", "jieba"])
def test_chinese_text_is_found_by_its_words(tmp_path: Path, chinese: str) -> None:
    index = _index(tmp_path / "bm25", chinese=chinese)
    _add(index, *NOTES)
    assert _ids(index, "星河-3 的向量维度是多少？")[0] == "zh"
    assert _ids(index, "嵌入模型") == ["zh"]


def test_other_tokenizer_settings_empty_the_index_for_reindexing(index: BM25Index, tmp_path: Path) -> None:
    assert _index(tmp_path / "bm25").count() == len(NOTES)
    assert _index(tmp_path / "bm25", stemming=False).count() == 0


def test_new_scoring_parameters_rebuild_the_matrix_from_the_stored_terms(index: BM25Index, tmp_path: Path) -> None:
    default = index.search(["heron reeds"], 1)[0][0].score
    flat = _index(tmp_path / "bm25", b=0.0).search(["heron reeds"], 1)[0][0]
    assert flat.id == "heron" and flat.score != pytest.approx(default)


def test_the_matrix_built_from_term_ids_scores_as_bm25s_does_from_term_lists(tmp_path: Path) -> None:
    """The build streams rows into shared term ids (for memory); the scores must be bm25s's own, to the bit."""
    import bm25s
    import numpy as np

    index = _index(tmp_path / "bm25")
    _add(index, *NOTES)
    index.upsert(["stopwords"], [Chunk("the and of it", {"source": "empty.md", "ordinal": 0})])  # no terms at all
    rows = [index.tokenizer(text) for text, _ in NOTES.values()] + [[]]
    reference = bm25s.BM25(k1=1.5, b=0.75)
    reference.index(rows, show_progress=False)
    for question in ("where does the heron wait?", "osprey harbor 7 fish", "向量维度"):
        terms = index.tokenizer(question)
        built = index.search([question], 10)[0]
        expected = reference.get_scores(terms)
        assert [hit.score for hit in built] == sorted((float(s) for s in expected if s > 0), reverse=True)
        assert np.array_equal(index._current().model.get_scores(terms), expected)
