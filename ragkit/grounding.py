"""Checking an answer against the passages it was given: which passage supports each sentence, and whether any does.

A small model often writes no ``[n]`` at all, or cites a passage that says
something else, so citations are not taken from the model's word. Each
sentence of the answer is compared with each passage by its *new* terms: the
words (English, stemmed, stop words dropped) and Chinese character bigrams it
has beyond the question's own. Restating the question proves nothing; the value
the answer adds (a number, an option, a command) is what a passage must hold;
a Chinese bigram holding a function character (的, 是, 中) is filler, not a new term.
A sentence is supported by the passage holding the largest share of its new
terms when that share reaches ``min_support``; the citation names the passage
and its sentence holding most of them (the supporting span). Numbers the model
cited itself are kept only where that passage supports that sentence, and the
rest are counted as invalid. The answer's *support* is the share of its new
terms that the best passage of their sentence holds, and it is *grounded* when
that reaches ``min_support``. An identifier the answer names and the question
does not (``--authorization-plugin``, ``docker context use``) counts as one
more new term, found in a passage by its exact text: an answer built of the
question's own words is still new when it joins them into a name. Across
languages (a Chinese sentence, an English passage, or the reverse) only the
terms both can share are compared, such as commands, paths, names and numbers:
a cross-lingual answer is grounded by such anchors, and a sentence without any
is unsupported.

Two kinds of reply are no answer at all and are caught here too: *degenerate*
ones (nothing but citation markers or punctuation, a copied heading or passage
line, the question said back) and refusals ("I do not know").

A question that names an *identifier* (an option such as ``--stop-timeout``, a
setting such as ``merge.autoSquashLimit``, a path, a macro) asks about that
identifier; passages none of which contains it (in its text, or its document's
path or title) cannot answer it, however fluent the model's reply. Near-domain
questions about settings that do not exist are caught this way, which no share
of the answer's terms can do: a made-up default of ``1`` is a term every passage
holds.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from ragkit.citations import cited_numbers, strip_citations
from ragkit.indexes.tokenizers import Tokenizer
from ragkit.language import HAN
from ragkit.types import Citation, Hit

# Sentence ends: . ! ? followed by a space, or a Chinese full stop, which needs none; and line breaks, since a
# table row, list item or heading is a unit of its own.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|(?<=[。！？；])|\n+")
# A single line break inside a sentence is a soft wrap (hard-wrapped Markdown and text, a PDF page's visual
# lines), not a unit's end: the line before stops on a letter or comma and the next goes on in lower case, or a
# digit that starts no numbered item; in Chinese, a character or comma on both sides. Joined before splitting,
# so a unit is the whole sentence (the one after a name, which often holds its value, included).
_SOFT_WRAP = re.compile(
    r"(?<=[A-Za-z,])[ \t]*\n[ \t]*(?=[a-z]|\d(?!\d*[.)](?:\s|$)))"
    r"|(?P<han>(?<=[\u4e00-\u9fff，、])[ \t]*\n[ \t]*(?=[\u4e00-\u9fff]))"
)
_HAS_CONTENT = re.compile(r"[^\W_]")
# Words that any answer may add without saying anything about the documents.
_ANSWER_WORDS = frozenset(
    "answer passag context document provid accord mention state question inform base given text use also".split()
)
# Chinese characters that carry grammar, not content (particles, the copula, prepositions, pronouns): a bigram
# holding one straddles a word boundary or is filler ("中提到的" gives 中提, 到的), so it is no evidence either way.
_FUNCTION_HAN = frozenset("的了是在和与及或中到为将把被就也都这那个之其以于对从着过")
# The Chinese words any answer may add: mention, document, according to, answer, question, passage.
_ANSWER_WORDS_ZH = frozenset("提到 提及 文档 根据 答案 问题 段落".split())
_REFUSAL = re.compile(
    r"\b(?:do(?:es)? not|don't|doesn't|cannot|can't|unable to)\s+(?:know|contain|find|provide|mention|say|answer|"
    r"have (?:any |enough )?information)|\bno (?:information|mention|answer)\b|\bnot (?:mentioned|specified|provided|"
    r"stated|found)\b|不知道|没有(?:提到|提及|提供|说明|相关|包含|找到|给出)|未(?:提及|提到|说明|提供|找到)|无法(?:回答|确定|找到)",
    re.IGNORECASE,
)
# Runs of printable ASCII: the candidates for identifiers, in English and in Chinese questions alike.
_ASCII_RUN = re.compile(r"[!-~]+")
# Code the answer marks as such: `docker context use`.
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_IDENTIFIER = re.compile(
    r"^(?:--?[A-Za-z]|\\[A-Za-z]|/\w|\.[A-Za-z])"  # an option, a TeX macro, an absolute path, a dot name (.bashrc, .Last)
    r"|\w(?:\.|::|_|/)\w"  # a dotted or scoped setting, snake_case, a relative path
    r"|[a-z][A-Z]"  # camelCase
    r"|[A-Za-z]\d|\d[A-Za-z]"  # letters with digits: libpaper1, IPv4, m68k
    r"|\w-\w+-\w"  # two hyphens: git-sh-setup
)
# A reply of at most this many words without a sentence end is a bare value, not a sentence.
FRAGMENT_WORDS = 3
# A copied line longer than this many words is prose, not a heading.
HEADING_WORDS = 12
SPAN_CHARS = 300


@dataclass
class Grounding:
    """What the check found: citations with their spans, model citations dropped, the supported share."""

    citations: list[Citation]
    invalid_citations: int
    support: float
    grounded: bool


@cache
def _tokenizer() -> Tokenizer:
    return Tokenizer(stemming=True, stopwords=True, chinese="bigrams")


def terms(text: str) -> set[str]:
    """The distinct terms of ``text``: stemmed English words without stop words, Chinese bigrams, numbers."""
    return set(_tokenizer()(unicodedata.normalize("NFKC", text)))


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, soft-wrapped lines joined, stripped; empty pieces dropped."""
    joined = _SOFT_WRAP.sub(lambda wrap: "" if wrap["han"] else " ", text)
    return [piece.strip() for piece in _SENTENCE_END.split(joined) if piece.strip()]


def new_terms(text: str, question: str) -> set[str]:
    """The terms ``text`` adds beyond the question's own and words any answer may use (citations left out)."""
    added = terms(strip_citations(text)) - terms(question) - _ANSWER_WORDS - _ANSWER_WORDS_ZH
    return {term for term in added if not (HAN.search(term) and _FUNCTION_HAN.intersection(term))}


def is_refusal(text: str) -> bool:
    """Whether the reply says the passages do not answer (English or Chinese)."""
    return bool(_REFUSAL.search(strip_citations(text)))


def identifiers(question: str) -> set[str]:
    """The identifiers the question names: options, settings, paths, macros, names with digits (see the module doc)."""
    found = set()
    for run in _ASCII_RUN.findall(question):
        token = run.strip("\"'`()[]{}<>?,;:!").rstrip(".")
        token = token[:-2] if token.endswith("'s") else token
        if re.search(r"[A-Za-z]", token) and _IDENTIFIER.search(token):
            found.add(token)
    return found


def new_identifiers(text: str, question: str) -> set[str]:
    """The identifiers and code spans ``text`` names that the question does not name whole (case folded)."""
    bare = strip_citations(text)
    asked = _folded(question)
    named = identifiers(bare) | {span.strip() for span in _CODE_SPAN.findall(bare) if _HAS_CONTENT.search(span)}
    return {folded for name in named if not _names_whole((folded := _folded(name)), asked)}


def _names_whole(name: str, text: str) -> bool:
    """Whether ``text`` holds ``name`` as a whole, not as part of a longer name (``.last`` in ``.last.sys``)."""
    return re.search(rf"(?<![\w./-]){re.escape(name)}(?![\w]|[./-]\w)", text) is not None


def keeps_value(value: str, sentence: str, question: str) -> bool:
    """Whether ``sentence`` keeps all that a bare ``value`` says: its terms, and each of its identifiers whole.

    Terms alone let ``Makevars.site`` pass as kept in "a site-wide Makevars file".
    """
    folded = _folded(sentence)
    kept_names = all(_names_whole(name, folded) for name in new_identifiers(value, question))
    return kept_names and terms(strip_citations(value)) <= terms(sentence)


def missing_identifiers(question: str, passages: Sequence[Hit]) -> set[str]:
    """The question's identifiers that no passage contains (case folded): a passage set that cannot answer it.

    A passage holds what its document's path and title name too: a page of the longtable manual
    (``latex/tools/longtable.pdf``) is about LaTeX though its text never says so.
    """
    texts = [_folded(" ".join((hit.text, hit.source, hit.title))) for hit in passages]
    return {name for name in identifiers(question) if not any(name.casefold() in text for text in texts)}


def is_fragment(text: str) -> bool:
    """A bare value (a number, a name, an option) with no sentence around it: at most ``FRAGMENT_WORDS`` words
    (two Chinese characters count as one) and no sentence end. It may be right, but it does not say what it is."""
    return bool(_HAS_CONTENT.search(strip_citations(text))) and _short_unfinished(text, FRAGMENT_WORDS)


def degenerate_reason(text: str, question: str, passages: Sequence[Hit]) -> str | None:
    """Why ``text`` is no answer (empty, only markers, a copied heading, the question said back), or None."""
    bare = strip_citations(text).strip()
    if not _HAS_CONTENT.search(bare):
        return "only citation markers" if text.strip() else "empty"
    if is_refusal(bare):
        return None
    if not new_terms(bare, question) and not new_identifiers(bare, question):
        return "says nothing beyond the question"
    if _short_unfinished(bare, HEADING_WORDS):  # a heading, a caption, a label
        line = _folded(bare).rstrip(".:。：")
        for hit in passages:
            lines = [*hit.text.splitlines(), hit.title]
            if any(_folded(candidate).lstrip("#*- ").rstrip(".:。：") == line for candidate in lines):
                return "a copy of a heading or line of a passage"
    return None


def ground(text: str, question: str, passages: Sequence[Hit], min_support: float) -> Grounding:
    """Attribute each sentence of ``text`` to the passages that support it (see the module doc)."""
    passage_terms = [terms(hit.text) for hit in passages]
    passage_texts = [_folded(hit.text) for hit in passages]
    chinese_passages = [_mostly_chinese(held) for held in passage_terms]
    by_number: dict[int, Citation] = {}
    invalid = 0
    weighed = supported_weight = 0.0
    for sentence in sentences(text):
        new = new_terms(sentence, question)
        names = new_identifiers(sentence, question)
        count = len(new) + len(names)
        chinese = _mostly_chinese(new)
        comparable = [new if chinese == other else {t for t in new if not HAN.search(t)} for other in chinese_passages]
        shares = [
            (len(c & held) + sum(name in folded for name in names)) / (len(c) + len(names)) if c or names else 0.0
            for c, held, folded in zip(comparable, passage_terms, passage_texts)
        ]
        if count:
            weighed += count
            supported_weight += count * max(shares, default=0.0)
        # Equal shares go to the best-retrieved passage, whatever the order the prompt showed them in.
        best = max(range(len(passages)), key=lambda index: (shares[index], passages[index].score), default=None)
        supporting = {best} if best is not None and count and shares[best] >= min_support else set()
        for number in cited_numbers(sentence):
            index = number - 1
            if 0 <= index < len(passages) and count and shares[index] >= min_support:
                supporting.add(index)
            elif 0 <= index < len(passages) and not count:
                continue  # a sentence with nothing to check (a restated question) neither keeps nor drops it
            else:
                invalid += 1
        for index in sorted(supporting):
            if index + 1 not in by_number:
                hit = passages[index]
                by_number[index + 1] = Citation(
                    number=index + 1,
                    source=hit.source,
                    page=hit.page,
                    hit_id=hit.id,
                    span=_span(hit.text, comparable[index]),
                    support=round(shares[index], 4),
                )
    support = supported_weight / weighed if weighed else 0.0
    return Grounding(
        citations=sorted(by_number.values(), key=lambda citation: citation.number),
        invalid_citations=invalid,
        support=support,
        grounded=bool(weighed) and support >= min_support,
    )


def _short_unfinished(text: str, most_words: int) -> bool:
    """At most ``most_words`` words (two Chinese characters count as one) and no sentence end, citations left out."""
    bare = strip_citations(text).strip()
    words = len(bare.split()) + len(HAN.findall(bare)) // 2
    return words <= most_words and not re.search(r"[.!?。！？]$", bare)


def _span(text: str, wanted: set[str]) -> str:
    """The passage's sentence holding most of ``wanted``, cut to ``SPAN_CHARS``."""
    pieces = sentences(text) or [text]
    best = max(pieces, key=lambda piece: len(wanted & terms(piece)))
    return best[:SPAN_CHARS]


def _mostly_chinese(held: set[str]) -> bool:
    return sum(1 for term in held if HAN.search(term)) * 2 > len(held)


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
