"""Reciprocal rank fusion, maximal marginal relevance and abstention on hand-made rankings."""

import numpy as np
import pytest

from ragkit.retrievers.ranking import abstains, maximal_marginal_relevance, reciprocal_rank_fusion
from ragkit.types import Hit


def test_rrf_adds_one_over_k_plus_rank_from_every_list() -> None:
    fused = reciprocal_rank_fusion({"dense": ["a", "b", "c"], "keyword": ["c", "d"]})
    assert [item for item, _ in fused] == ["c", "a", "b", "d"]  # b and d tie: b was met first
    assert dict(fused) == pytest.approx({"c": 1 / 63 + 1 / 61, "a": 1 / 61, "b": 1 / 62, "d": 1 / 62})


def test_rrf_weights_scale_each_list_and_zero_leaves_it_out() -> None:
    rankings = {"dense": ["a", "b"], "keyword": ["b", "c"]}
    weighted = dict(reciprocal_rank_fusion(rankings, weights={"dense": 2.0, "keyword": 0.5}))
    assert weighted == pytest.approx({"a": 2 / 61, "b": 2 / 62 + 0.5 / 61, "c": 0.5 / 62})
    dense_only = reciprocal_rank_fusion(rankings, weights={"dense": 1.0, "keyword": 0.0})
    assert [item for item, _ in dense_only] == ["a", "b"]
    assert dict(dense_only) == pytest.approx({"a": 1 / 61, "b": 1 / 62})


def test_small_k_favours_first_places_large_k_favours_agreement() -> None:
    # "a" is first in one list; "b" is fourth in both: 1/(k+1) against 2/(k+4), equal at k = 2.
    rankings = {"dense": ["a", "x", "y", "b"], "keyword": ["p", "q", "r", "b"]}
    sharp = [item for item, _ in reciprocal_rank_fusion(rankings, k=1)]
    flat = [item for item, _ in reciprocal_rank_fusion(rankings, k=60)]
    assert sharp.index("a") < sharp.index("b")
    assert flat[0] == "b" and flat.index("b") < flat.index("a")


def test_rrf_of_nothing_is_nothing() -> None:
    assert reciprocal_rank_fusion({"dense": [], "keyword": []}) == []


def _near_copies() -> np.ndarray:
    # items 0 and 1 say the same thing; item 2 is different
    return np.array([[1.0, 0.99, 0.1], [0.99, 1.0, 0.1], [0.1, 0.1, 1.0]])


def test_mmr_with_full_weight_on_relevance_keeps_the_order() -> None:
    assert maximal_marginal_relevance([1.0, 0.95, 0.8], _near_copies(), 3, 1.0) == [0, 1, 2]


def test_mmr_passes_over_a_near_copy_of_a_picked_item() -> None:
    # after item 0: item 1 gains .5*.95 - .5*.99 < .5*.8 - .5*.1 for item 2
    assert maximal_marginal_relevance([1.0, 0.95, 0.8], _near_copies(), 3, 0.5) == [0, 2, 1]
    assert maximal_marginal_relevance([1.0, 0.95, 0.8], _near_copies(), 2, 0.5) == [0, 2]


def test_mmr_relevance_is_relative_to_the_best() -> None:
    # the same choice whatever the scale of the scores (cosine, BM25, fused ranks)
    assert maximal_marginal_relevance([10.0, 9.5, 8.0], _near_copies(), 3, 0.5) == [0, 2, 1]
    assert maximal_marginal_relevance([0.033, 0.032, 0.016], _near_copies(), 3, 0.5) == [0, 2, 1]


def test_mmr_edge_cases() -> None:
    assert maximal_marginal_relevance([], np.zeros((0, 0)), 3, 0.5) == []
    assert maximal_marginal_relevance([0.3], np.ones((1, 1)), 3, 0.5) == [0]
    assert maximal_marginal_relevance([0.5, 0.5], np.eye(2), 0, 0.5) == []


def test_abstains_only_when_no_dense_score_reaches_the_threshold() -> None:
    hits = [Hit("a", "", 0.42, {}), Hit("b", "", 0.30, {})]
    assert not abstains(hits, None) and not abstains(hits, 0.42)
    assert abstains(hits, 0.43) and abstains([], 0.1) and not abstains([], None)


def test_a_best_keyword_hit_with_every_query_term_vetoes_abstention() -> None:
    dense = [Hit("a", "", 0.2, {})]
    full, partial = Hit("k", "", 9.0, {}, {"matched": 1.0}), Hit("p", "", 7.0, {}, {"matched": 0.5})
    assert not abstains(dense, 0.3, [full, partial])
    assert abstains(dense, 0.3, [partial, full])  # only the best keyword hit counts
    assert abstains(dense, 0.3, []) and not abstains(dense, 0.1, [partial])
