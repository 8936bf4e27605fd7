"""Reading ``[n]`` citations out of answers and tracing them back to the passages of the prompt."""

import pytest

from ragkit.citations import MAX_RANGE, cited_numbers, resolve_citations
from ragkit.pipeline import TokenStream
from ragkit.types import Citation, Hit


def _passages(count: int) -> list[Hit]:
    return [
        Hit(id=f"id{n}", text=f"passage {n}", score=1 - n / 10, metadata={"source": f"doc{n}.pdf", "page": n})
        for n in range(1, count + 1)
    ]


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("The default is 220 tokens [1].", [1]),
        ("It has 384 dimensions [2, 3].", [2, 3]),
        ("It has 384 dimensions [2,3] and more [1].", [2, 3, 1]),
        ("Both say so [1][3].", [1, 3]),
        ("See [2] and [2] again, then [1].", [2, 1]),
        ("A range [1-3].", [1, 2, 3]),
        ("A range with an en dash [2–4] and a list [1-2, 5].", [2, 3, 4, 1, 5]),
        ("Passages named [passage 2] or [Passages 1 and 4] or [source 3].", [2, 1, 4, 3]),
        ("中文答案【1】和【2】。", [1, 2]),
        ("全角括号［１，３］。", [1, 3]),
        ("顿号分隔[1、2]。", [1, 2]),
        ("Semicolons [1; 3].", [1, 3]),
        ("No citation here.", []),
        ("Brackets that are not citations: [note], a[i], [0-255], [x = 1], [1.5].", []),
        ("An empty [] bracket and a split [1\n2].", []),
    ],
)
def test_cited_numbers(text: str, numbers: list[int]) -> None:
    assert cited_numbers(text) == numbers


def test_a_range_longer_than_the_limit_is_not_a_citation_at_all() -> None:
    assert cited_numbers(f"[1-{MAX_RANGE + 1}]") == []
    assert cited_numbers(f"[1-{MAX_RANGE + 1}, 2]") == []  # not half a citation either
    assert cited_numbers(f"[1-{MAX_RANGE}]") == list(range(1, MAX_RANGE + 1))


def test_citations_map_numbers_to_the_passages_in_prompt_order() -> None:
    passages = _passages(3)
    citations, invalid = resolve_citations("It is 48 [3], as the runbook says [1].", passages)
    assert citations == [
        Citation(number=3, source="doc3.pdf", page=3, hit_id="id3"),
        Citation(number=1, source="doc1.pdf", page=1, hit_id="id1"),
    ]
    assert invalid == 0


def test_numbers_without_a_passage_are_dropped_and_counted_once_each() -> None:
    citations, invalid = resolve_citations("Claims [0], [2], [4], [4] and [7-8].", _passages(3))
    assert [citation.number for citation in citations] == [2]
    assert invalid == 4  # 0, 4, 7 and 8; the second [4] is the same number


def test_no_passages_means_every_citation_is_invalid() -> None:
    assert resolve_citations("Made up [1].", []) == ([], 1)


def test_citation_to_dict_is_plain_json() -> None:
    citation = Citation(number=2, source="a/b.md", page=None, hit_id="x")
    assert citation.to_dict() == {"number": 2, "source": "a/b.md", "page": None, "hit_id": "x"}


def test_a_token_stream_knows_its_citations_once_the_text_is_complete() -> None:
    passages = _passages(2)
    stream = TokenStream("q", passages, "prompt", iter(["It is 14 ", "[", "2", "] and [", "5", "]."]))
    assert stream.citations == [] and stream.invalid_citations == 0  # nothing has arrived yet
    assert "".join(stream) == "It is 14 [2] and [5]."
    assert stream.citations == [Citation(number=2, source="doc2.pdf", page=2, hit_id="id2")]
    assert stream.invalid_citations == 1
