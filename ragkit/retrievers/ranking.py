"""Rank arithmetic shared by the retrievers: fusion, diversification and abstention, as small pure functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ragkit.types import Hit


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[str]], *, k: float = 60, weights: Mapping[str, float] | None = None
) -> list[tuple[str, float]]:
    """Fuse ranked id lists: each id scores ``sum(weight / (k + rank))`` over the lists it is in, rank from 1.

    Only ranks count, never the lists' own scores, so a cosine and a BM25 score
    need no common scale. A larger ``k`` flattens the advantage of the very
    first ranks. A list whose weight is 0 (or missing from ``weights`` when
    some are given) is left out. Best first; equal scores keep the order in
    which the ids were first met.
    """
    fused: dict[str, float] = {}
    for name, ranking in rankings.items():
        weight = 1.0 if weights is None else weights.get(name, 0.0)
        if weight <= 0:
            continue
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: -pair[1])


def maximal_marginal_relevance(relevance: Sequence[float], similarity: np.ndarray, k: int, weight: float) -> list[int]:
    """Positions of ``k`` items picked greedily to be relevant and unlike the items already picked.

    Each step takes the item maximising ``weight * relevance - (1 - weight) *
    (its highest similarity to a picked item)``: ``weight`` 1 keeps the
    relevance order, lower values trade relevance for variety. Relevance is
    divided by the largest first, so the best item scores 1 whether the scores
    are cosines, BM25 or fused ranks, and keeps its natural spread (stretching
    it to [0, 1] instead would make a near-copy of the best item look far more
    relevant than the next different one); ``similarity`` is the items'
    pairwise cosine matrix.
    """
    scores = np.asarray(relevance, dtype=np.float64)
    if len(scores) == 0 or k <= 0:
        return []
    largest = np.abs(scores).max()
    scores = scores / largest if largest > 0 else np.ones_like(scores)
    picked: list[int] = [int(np.argmax(scores))]
    closest = np.asarray(similarity[picked[0]], dtype=np.float64).copy()  # each item's highest similarity to a pick
    while len(picked) < min(k, len(scores)):
        gain = weight * scores - (1 - weight) * closest
        gain[picked] = -np.inf
        choice = int(np.argmax(gain))
        picked.append(choice)
        closest = np.maximum(closest, similarity[choice])
    return picked


def diversify(hits: list[Hit], vectors: np.ndarray, k: int, weight: float) -> list[Hit]:
    """The ``k`` hits that maximal marginal relevance picks, by their vectors (one row per hit), in the order picked."""
    if len(hits) <= 1:
        return hits[:k]
    order = maximal_marginal_relevance([hit.score for hit in hits], vectors @ vectors.T, k, weight)
    return [hits[position] for position in order]


# The default abstention threshold, a cosine of all-MiniLM-L6-v2 (the default embedder) calibrated by
# benchmarks/calibrate.py: it kept 122 of the 123 Debian dev-set questions and all 20 sample questions
# while abstaining on 19 of 40 unanswerable ones (benchmarks/RESULTS.md). Another embedder has its
# own cosine scale: set `abstain_below` for it (or null).
ABSTAIN_BELOW = 0.3


def abstains(dense_hits: Sequence[Hit], threshold: float | None, keyword_hits: Sequence[Hit] = ()) -> bool:
    """Whether to answer nothing: no dense candidate's cosine reaches ``threshold`` (None: never abstain).

    With keyword hits (hybrid retrieval), a best keyword passage that holds
    every term of the question vetoes the abstention: a short question such as
    "Where is Google Earth?" can sit below the cosine threshold while a passage
    names it word for word. On the Debian dev set this kept the one answerable
    question the cosine alone dropped, and none of the 40 unanswerable ones
    reached a full match (benchmarks/RESULTS.md).
    """
    if threshold is None or max((hit.score for hit in dense_hits), default=float("-inf")) >= threshold:
        return False
    return not (keyword_hits and keyword_hits[0].scores.get("matched") == 1.0)
