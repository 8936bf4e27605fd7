"""The hybrid retriever over real MiniLM vectors in Chroma and a real BM25 index."""

import pytest

from ragkit.config import ConfigError, load_config
from ragkit.retrievers.dense import DenseRetriever
from ragkit.retrievers.hybrid import HybridRetriever
from ragkit.retrievers.keyword import KeywordRetriever
from ragkit.retrievers.ranking import reciprocal_rank_fusion

from retrievers.conftest import PASSAGES, Corpus

DUPLICATES = {"serving/a.md", "serving/b.md", "serving/c.md"}


def _hybrid(corpus: Corpus, **settings: object) -> HybridRetriever:
    return HybridRetriever(HybridRetriever.Config(**settings), embedder=corpus.embedder, store=corpus.store, index=corpus.index)


def _dense(corpus: Corpus, **settings: object) -> DenseRetriever:
    return DenseRetriever(DenseRetriever.Config(**settings), embedder=corpus.embedder, store=corpus.store, index=corpus.index)


def _keyword(corpus: Corpus) -> KeywordRetriever:
    return KeywordRetriever(KeywordRetriever.Config(), embedder=corpus.embedder, store=corpus.store, index=corpus.index)


def test_hits_are_the_rrf_of_both_rankings_with_component_scores(corpus: Corpus) -> None:
    query = "What does error E-7731 mean?"
    dense = _dense(corpus).retrieve([query], k=8)[0]
    keyword = _keyword(corpus).retrieve([query], k=8)[0]
    expected = reciprocal_rank_fusion({"dense": [h.id for h in dense], "keyword": [h.id for h in keyword]})
    hits = _hybrid(corpus, top_k=3, candidates=8).retrieve([query])[0]
    assert [(hit.id, hit.score) for hit in hits] == expected[:3]
    assert hits[0].id == corpus.ids["errors.pdf"]
    top = hits[0]
    assert top.scores["rrf"] == top.score
    assert top.scores["dense"] == next(h.score for h in dense if h.id == top.id)
    assert top.scores["keyword"] == next(h.score for h in keyword if h.id == top.id)


def test_zero_weight_leaves_one_side_out(corpus: Corpus) -> None:
    query = "How many sequences per GPU does Heron allow?"
    dense_only = _hybrid(corpus, weights={"keyword": 0}, top_k=4).retrieve([query])[0]
    keyword_only = _hybrid(corpus, weights={"dense": 0}, top_k=4).retrieve([query])[0]
    assert [hit.id for hit in dense_only] == [hit.id for hit in _dense(corpus, top_k=4).retrieve([query])[0]]
    assert [hit.id for hit in keyword_only] == [hit.id for hit in _keyword(corpus).retrieve([query], k=4)[0]]


def test_a_chinese_question_is_ranked_with_the_chinese_weights(corpus: Corpus) -> None:
    query = "普通用户要加入哪个用户组才能管理网络？"
    keyword = [hit.id for hit in _keyword(corpus).retrieve([query], k=4)[0]]
    by_default = _hybrid(corpus, top_k=4).retrieve([query, "How many sequences per GPU does Heron allow?"])
    assert [hit.id for hit in by_default[0]] == keyword  # keyword alone: the default embedder reads no Chinese
    assert by_default[0][0].id == corpus.ids["zh/network.md"]
    assert "dense" in by_default[1][0].scores and "keyword" in by_default[1][0].scores  # English: both sides
    dense = [hit.id for hit in _dense(corpus).retrieve([query], k=8)[0]]
    expected = reciprocal_rank_fusion({"dense": dense, "keyword": [h.id for h in _keyword(corpus).retrieve([query], k=8)[0]]})
    fused = _hybrid(corpus, top_k=4, candidates=8, chinese_weights=None).retrieve([query])[0]
    assert [(hit.id, hit.score) for hit in fused] == expected[:4]  # None: ``weights``, both sides


def test_filters_apply_to_both_sides(corpus: Corpus) -> None:
    hits = _hybrid(corpus, top_k=8).retrieve(["Heron GPU sequences E-7731 osprey"], where={"file_type": "pdf"})[0]
    assert {hit.source for hit in hits} == {"serving/gpu.pdf", "errors.pdf"}
    assert all("keyword" in hit.scores and "dense" in hit.scores for hit in hits)


def test_abstains_when_no_dense_candidate_reaches_the_threshold(corpus: Corpus) -> None:
    query = "What does error E-7731 mean?"
    best = max(hit.scores["dense"] for hit in _hybrid(corpus, top_k=8).retrieve([query])[0])
    assert _hybrid(corpus, abstain_below=best + 0.01).retrieve([query, "osprey fish"])[0] == []  # no chunk says "mean"
    assert _hybrid(corpus, abstain_below=best - 0.01).retrieve([query])[0]
    assert _dense(corpus, abstain_below=best + 0.01).retrieve([query])[0] == []
    assert _dense(corpus, abstain_below=best - 0.01).retrieve([query])[0]


def test_a_keyword_passage_with_every_query_term_vetoes_abstention(corpus: Corpus) -> None:
    never = 1.01  # above any cosine: dense evidence alone always abstains
    [hits] = _hybrid(corpus, abstain_below=never).retrieve(["osprey"])
    assert hits[0].id == corpus.ids["birds.md"] and hits[0].scores["matched"] == 1.0
    assert _hybrid(corpus, abstain_below=never).retrieve(["osprey zeppelin"]) == [[]]
    assert _dense(corpus, abstain_below=never).retrieve(["osprey"]) == [[]]


@pytest.mark.parametrize("make", [_hybrid, _dense], ids=["hybrid", "dense"])
def test_mmr_keeps_near_copies_out_of_the_top(corpus: Corpus, make) -> None:
    query = "How many concurrent sequences per GPU does the Heron serving stack allow?"
    plain = make(corpus, top_k=3).retrieve([query])[0]
    assert {hit.source for hit in plain} == DUPLICATES  # the three copies crowd out everything else
    diverse = make(corpus, top_k=3, mmr_lambda=0.5).retrieve([query])[0]
    assert diverse[0].id == plain[0].id
    assert len({hit.source for hit in diverse} & DUPLICATES) == 1
    assert make(corpus, top_k=3, mmr_lambda=1.0).retrieve([query])[0] == plain


def test_mmr_takes_the_vectors_from_the_search_and_fetches_only_keyword_hits(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dense hits arrive with their stored vectors; only hits the keyword side alone found are fetched."""
    fetched: list[list[str]] = []
    real_vectors = corpus.store.vectors
    monkeypatch.setattr(corpus.store, "vectors", lambda ids: fetched.append(list(ids)) or real_vectors(ids))
    query = "How many concurrent sequences per GPU does the Heron serving stack allow?"
    dense = _dense(corpus, top_k=3, mmr_lambda=0.5).retrieve([query])[0]
    assert len(dense) == 3 and fetched == []  # every candidate came with its vector
    plain = _hybrid(corpus, top_k=len(PASSAGES), candidates=len(PASSAGES)).retrieve([query])[0]
    assert all(hit.vector is None for hit in plain)  # no vectors asked for without MMR
    _hybrid(corpus, top_k=3, candidates=3, mmr_lambda=0.5).retrieve([query])
    dense_ids = {hit.id for hit in _dense(corpus, top_k=3).retrieve([query])[0]}
    keyword_ids = {hit.id for hit in _keyword(corpus).retrieve([query], k=3)[0]}
    assert sorted(chunk_id for ids in fetched for chunk_id in ids) == sorted(keyword_ids - dense_ids)


def test_dense_hits_carry_their_cosine_as_a_component(corpus: Corpus) -> None:
    hits = _dense(corpus).retrieve(["osprey"])[0]
    assert all(hit.scores == {"dense": hit.score} for hit in hits)


def test_hybrid_without_an_index_is_refused() -> None:
    with pytest.raises(ConfigError, match="retriever type 'hybrid' searches a keyword index"):
        load_config({"retriever": {"type": "hybrid"}, "index": None})
    with pytest.raises(ConfigError, match="weights.sparse"):
        load_config({"retriever": {"type": "hybrid", "weights": {"sparse": 1}}, "index": {"type": "bm25"}})
