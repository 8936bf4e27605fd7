"""Reading ``[n]`` citations out of answers and tracing them back to the passages of the prompt."""

import pytest

from ragkit.citations import MAX_RANGE, cited_numbers, strip_citations
from ragkit.types import Citation


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


def test_strip_citations_removes_markers_and_keeps_other_brackets() -> None:
    assert strip_citations("It is 48 [3], see a[i] and [0-255] 【1、2】.") == "It is 48 , see a[i] and [0-255] ."
    assert strip_citations("[1]").strip() == ""


def test_citation_to_dict_is_plain_json() -> None:
    citation = Citation(number=2, source="a/b.md", page=None, hit_id="x", span="It is 14.", support=1.0)
    assert citation.to_dict() == {"number": 2, "source": "a/b.md", "page": None, "hit_id": "x", "span": "It is 14.", "support": 1.0}
