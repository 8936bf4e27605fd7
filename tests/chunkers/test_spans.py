"""The shared layout and merge logic, with a counter of one token per non-space character."""

from __future__ import annotations

from chunkers.chunk_helpers import CharCounter

from ragkit.chunkers.layout import CHAR, LINE, PARAGRAPH, SENTENCE, WORD, Budget, Layout, Span, trailing
from ragkit.chunkers.spans import merge


def words(layout: Layout) -> list[str]:
    return [layout.text[atom.start : atom.end] for atom in layout.atoms]


def test_boundaries_are_ranked_paragraph_line_sentence_word() -> None:
    layout = Layout("One two.\nThree four.\n\nFive! Six", CharCounter(), Budget(None, 100))
    assert words(layout) == ["One", "two.", "Three", "four.", "Five!", "Six"]
    assert layout.levels == [WORD, LINE, WORD, PARAGRAPH, SENTENCE]
    assert layout.sentence_ends == [False, True, False, True, True]


def test_full_width_punctuation_ends_a_sentence_without_space() -> None:
    layout = Layout("你好。他说：“走吧！”然后呢？好；", CharCounter(), Budget(None, 100))
    assert words(layout) == ["你好。", "他说：“走吧！”", "然后呢？", "好；"]
    assert layout.levels == [SENTENCE, SENTENCE, SENTENCE]
    assert layout.sentences() == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_a_word_too_long_for_the_budget_becomes_character_blocks() -> None:
    layout = Layout("ab abcdefghij cd", CharCounter(), Budget(None, 4))
    assert words(layout) == ["ab", "abcd", "efgh", "ij", "cd"]
    assert layout.levels == [WORD, CHAR, CHAR, WORD]


def test_split_uses_the_strongest_boundary_that_suffices() -> None:
    text = "aa bb.\ncc dd\n\nee ff"
    layout = Layout(text, CharCounter(), Budget(None, 9))
    pieces = layout.split(0, len(layout.atoms), PARAGRAPH, Budget(None, 9))
    assert [text[p.start : p.end] for p in pieces] == ["aa bb.\ncc dd", "ee ff"]
    pieces = layout.split(0, len(layout.atoms), PARAGRAPH, Budget(None, 5))
    assert [text[p.start : p.end] for p in pieces] == ["aa bb.", "cc dd", "ee ff"]


def test_trailing_takes_whole_units_within_overlap_but_never_the_first() -> None:
    units = [Span(0, 3, 3), Span(4, 6, 2), Span(7, 9, 2)]
    assert trailing(units, 4, "tokens") == units[1:]
    assert trailing(units, 3, "tokens") == units[2:]
    assert trailing(units, 100, "tokens") == units[1:]
    assert trailing(units, 1, "tokens") == []
    assert trailing(units, 5, "characters") == units[1:]


def test_merge_packs_greedily_and_opens_with_the_overlap() -> None:
    pieces = [Span(0, 2, 2), Span(3, 5, 2), Span(6, 8, 2), Span(9, 11, 2)]
    assert merge(pieces, Budget(None, 4), lambda units: []) == [Span(0, 5, 4), Span(6, 11, 4)]
    chunks = merge(pieces, Budget(None, 4), lambda units: units[-1:])
    assert chunks == [Span(0, 5, 4), Span(3, 8, 4), Span(6, 11, 4)]


def test_merge_drops_overlap_that_would_not_leave_room() -> None:
    pieces = [Span(0, 2, 2), Span(3, 5, 2), Span(6, 10, 4)]
    chunks = merge(pieces, Budget(None, 4), lambda units: units[-1:])
    assert chunks == [Span(0, 5, 4), Span(6, 10, 4)]


def test_tail_falls_back_to_the_last_characters() -> None:
    text = "abcdefgh ijklmnop"
    layout = Layout(text, CharCounter(), Budget(None, 100))
    tail = layout.tail([layout.span(0, 2)], 3, "tokens")
    assert [text[t.start : t.end] for t in tail] == ["nop"]
    tail = layout.tail([layout.span(0, 2)], 10, "tokens")
    assert [text[t.start : t.end] for t in tail] == ["ijklmnop"]
