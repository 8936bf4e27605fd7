"""The keyword retriever over a real BM25 index."""

import pytest

from ragkit.config import ConfigError, load_config
from ragkit.retrievers.keyword import KeywordRetriever

from retrievers.conftest import Corpus


def _keyword(corpus: Corpus, **settings: object) -> KeywordRetriever:
    return KeywordRetriever(KeywordRetriever.Config(**settings), embedder=corpus.embedder, store=corpus.store, index=corpus.index)


def test_an_exact_code_is_found_first_with_its_bm25_score(corpus: Corpus) -> None:
    hits = _keyword(corpus).retrieve(["what does E-7731 mean?", "osprey"])
    assert hits[0][0].id == corpus.ids["errors.pdf"] and hits[1][0].id == corpus.ids["birds.md"]
    assert hits[0][0].scores["keyword"] == hits[0][0].score > 0
    assert hits[1][0].scores == {"keyword": hits[1][0].score, "matched": 1.0}


def test_matched_is_the_share_of_the_query_terms_in_the_chunk(corpus: Corpus) -> None:
    [hits] = _keyword(corpus, top_k=1).retrieve(["osprey zeppelin airship"])  # only "osprey" is in the corpus
    assert hits[0].id == corpus.ids["birds.md"] and hits[0].scores["matched"] == pytest.approx(1 / 3)


def test_top_k_k_and_filters(corpus: Corpus) -> None:
    retriever = _keyword(corpus, top_k=2)
    assert len(retriever.retrieve(["Heron serving GPU"])[0]) == 2
    assert len(retriever.retrieve(["Heron serving GPU"], k=4)[0]) == 4
    pdf = retriever.retrieve(["Heron serving GPU"], k=4, where={"file_type": "pdf"})[0]
    assert [hit.source for hit in pdf] == ["serving/gpu.pdf"]


def test_without_an_index_it_is_refused(corpus: Corpus) -> None:
    with pytest.raises(ConfigError, match="retriever.type: retriever type 'keyword' searches a keyword index.*index: {type: bm25}"):
        load_config({"retriever": {"type": "keyword"}, "index": None})
    with pytest.raises(ValueError, match="needs a keyword index"):
        KeywordRetriever(KeywordRetriever.Config(), embedder=corpus.embedder, store=corpus.store, index=None)
    assert load_config({"retriever": {"type": "keyword"}, "index": {"type": "bm25"}}).index is not None
