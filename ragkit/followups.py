"""Making a follow-up question stand alone: the cheap check, the concatenated query, the rewrite prompt, the fusion.

Pure functions, no model: ``ragkit.conversation`` calls the generator and the
retriever with what they build. A follow-up such as "and its CPU?" retrieves
nothing useful as asked; what it refers to is in the earlier turns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ragkit.generators.base import Messages
from ragkit.language import is_chinese
from ragkit.retrievers.ranking import reciprocal_rank_fusion
from ragkit.types import Hit

# Words that point back into the conversation.
REFERRING_WORDS = frozenset("this these those such same else instead former latter".split())
# ... unless the next word makes them part of a phrase that stands alone ("such as", "instead of").
PHRASES = frozenset({("such", "as"), ("instead", "of")})
# Personal pronouns point back only when nothing the question names comes before them: "R saves its history"
# stands alone, "does its --patch mode keep the index" does not.
PRONOUNS = frozenset("it its it's itself they them their theirs he him his she her".split())
# "that" is mostly a relative pronoun in a question that stands alone ("the option that limits memory"), a
# noun before it; after a preposition or a verb it points back ("in that directory", "does that driver").
THAT_POINTS_BACK_AFTER = frozenset(
    "in to for with of on from at by about into under over like does do did is are was were use set change".split()
)
# A question opening with one of these continues the previous one ("and its CPU?", "what about Windows?").
LEADING_WORDS = frozenset("and but or so also then plus too".split())
LEADING_PHRASES = ("what about", "how about", "what if", "and if", "same for", "why not")
MIN_WORDS = 4
# Chinese: pronouns, demonstratives, and openings and endings that continue the previous question.
# 应该/应当 ("should") hold 该 without pointing back, so they are removed before looking.
CHINESE_REFERRING = re.compile(r"它|他们|她|这|那|此|其|该|上述|前者|后者|同样|同一|另外|还有")
CHINESE_FALSE = re.compile(r"应该|应当|活该")
CHINESE_LEADING = re.compile(r"^\s*(那|而|并且|以及|还|也|如果|要是|换成)")
CHINESE_TRAILING = re.compile(r"呢\s*[？?]?\s*$")
MIN_CHINESE_CHARS = 6
_WORD = re.compile(r"[A-Za-z0-9-][A-Za-z0-9'_./-]*")
# A name: capitalised past the first word, or with a digit, a dot, a slash, a leading dash or a possessive 's.
_NAME = re.compile(r"[A-Z]|\d|\w[./]\w|^-|'s$")
_HAN = re.compile(r"[\u4e00-\u9fff]")

REWRITE_SYSTEM = (
    "You rewrite the last question of a conversation so that it can be understood without the conversation. "
    "Replace every pronoun and reference with the name it refers to, keep everything else, and keep the "
    "question's language. Reply with the rewritten question only, on one line, without answering it."
)
REWRITE_HINT_ZH = "请用中文写出改写后的问题。\n"
# Earlier answers are shown cut to this many characters: enough to name what they were about.
ANSWER_CHARS = 300
# A rewrite longer than this is a model that went on answering, not a question.
MAX_REWRITE_CHARS = 400


def stands_alone(question: str) -> bool:
    """Whether ``question`` can be retrieved as asked: it is not very short, and nothing in it points back
    (a pronoun, a demonstrative, a leading "and" or "what about"; in Chinese 它, 这, 那, 其, a closing 呢)."""
    if is_chinese(question):
        text = CHINESE_FALSE.sub("", question)
        if len(_HAN.findall(text)) < MIN_CHINESE_CHARS:
            return False
        return not (CHINESE_REFERRING.search(text) or CHINESE_LEADING.search(text) or CHINESE_TRAILING.search(text))
    written = _WORD.findall(question.strip())
    words = [word.lower().strip("'.") for word in written]
    if len(words) < MIN_WORDS or words[0] in LEADING_WORDS or question.strip().lower().startswith(LEADING_PHRASES):
        return False
    if any(word == "that" and before in THAT_POINTS_BACK_AFTER for before, word in zip(words, words[1:])):
        return False
    if any(word in REFERRING_WORDS and (word, after) not in PHRASES for word, after in zip(words, [*words[1:], ""])):
        return False
    for position, word in enumerate(words):
        if word in PRONOUNS:
            return any(_NAME.search(name) for name in written[1:position])
    return True


def concatenated(question: str, previous: Sequence[str]) -> str:
    """The follow-up retrieved with the previous questions (oldest first): their terms carry what it refers to."""
    return " ".join([*(text.strip() for text in previous), question.strip()])


def rewrite_messages(question: str, turns: Sequence[tuple[str, str]]) -> Messages:
    """The prompt asking the generator for the standalone form of ``question`` given earlier (question, answer) turns."""
    lines = []
    for asked, answered in turns:
        lines.append(f"User: {asked.strip()}")
        if answered.strip():
            lines.append(f"Assistant: {answered.strip()[:ANSWER_CHARS]}")
    hint = REWRITE_HINT_ZH if is_chinese(question) else ""
    user = "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question.strip()}\n{hint}Rewritten question:"
    return [{"role": "system", "content": REWRITE_SYSTEM}, {"role": "user", "content": user}]


def parse_rewrite(reply: str) -> str:
    """The rewritten question in a reply: its first line, without a label or quotes; "" when there is none."""
    for line in reply.strip().splitlines():
        line = re.sub(r"^\s*(rewritten question|question|改写后的问题|问题)\s*[:：]\s*", "", line, flags=re.IGNORECASE)
        line = line.strip().strip("\"'“”「」`").strip()
        if line:
            return line if len(line) <= MAX_REWRITE_CHARS else ""
    return ""


def fuse(rankings: Sequence[list[Hit]], k: int, rrf_k: float = 60) -> list[Hit]:
    """The hits of several queries' rankings fused by reciprocal rank, best ``k`` first; ``score`` becomes the
    fused score, kept in ``scores["queries"]`` beside the retriever's own."""
    by_id: dict[str, Hit] = {}
    for ranking in rankings:
        for hit in ranking:
            by_id.setdefault(hit.id, hit)
    fused = reciprocal_rank_fusion({str(i): [hit.id for hit in ranking] for i, ranking in enumerate(rankings)}, k=rrf_k)
    hits = []
    for hit_id, score in fused[:k]:
        hit = by_id[hit_id]
        hits.append(Hit(hit.id, hit.text, score, hit.metadata, {**hit.scores, "queries": score}))
    return hits
