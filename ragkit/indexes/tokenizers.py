"""Terms for the keyword index, from English, Chinese and mixed text.

Words written with spaces between them (English and other alphabetic
scripts) are lowercased, English stop words dropped and, optionally, stemmed
with the Snowball English stemmer, so ``chunks``, ``chunking`` and ``chunk``
meet. Identifiers keep their underscores (``batch_chunks`` is one term), so an
option name matches exactly. Chinese has no spaces: a run of Han characters is
cut into overlapping character bigrams (``向量检索`` -> ``向量 量检 检索``) or
segmented by jieba's search mode (its words, and the shorter words inside
them). Mixed text is split into runs first, each run handled by its own
rules, so one tokenizer serves both languages.

Bigrams are the default because they measured at least as good as jieba
(search mode, the one offered) and cost no dictionary and less time
(``benchmarks/keyword_tokenizers.py``, benchmarks/RESULTS.md): on the 119
question headings of the Debian FAQ in Chinese, the right page first for
95.0% against 94.1% (jieba's plain mode 92.4%), the passage holding the
heading first for 96.6% against 95.0%; tokenizing and indexing took 0.6x of
jieba's time. On our 22 questions over sample_docs/zh both were perfect at
the file level.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from typing import Literal

Segmenter = Literal["bigrams", "jieba"]

# Han ideographs (with extension A and the compatibility block), kana and hangul: scripts written
# without spaces between words.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_RUNS = re.compile(rf"(?P<cjk>[{_CJK}]+)|(?P<word>[^\W{_CJK}]+)")


class Tokenizer:
    """Turns texts into index terms; the same one must tokenize the chunks and the queries."""

    def __init__(self, *, stemming: bool = True, stopwords: bool = True, chinese: Segmenter = "bigrams"):
        self.stemming, self.stopwords, self.chinese = stemming, stopwords, chinese

    @property
    def fingerprint(self) -> str:
        """Changes whenever the terms would: an index built with other settings must be rebuilt."""
        return f"v1 stemming={self.stemming} stopwords={self.stopwords} chinese={self.chinese}"

    def __call__(self, text: str) -> list[str]:
        terms: list[str] = []
        words: list[str] = []  # alphabetic words waiting to be stemmed together: one stemmer call per run
        for match in _RUNS.finditer(text):
            if match.lastgroup == "word":
                word = match.group().lower()
                if not (self.stopwords and word in _stopwords()):
                    words.append(word)
                continue
            terms.extend(self._stem(words))
            words = []
            run = match.group()
            terms.extend(_bigrams(run) if self.chinese == "bigrams" else _jieba_words(run))
        terms.extend(self._stem(words))
        return terms

    def _stem(self, words: list[str]) -> list[str]:
        return _stemmer().stemWords(words) if self.stemming and words else words


def _bigrams(run: str) -> list[str]:
    """Overlapping pairs of characters; a single character stands for itself."""
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def _jieba_words(run: str) -> list[str]:
    return _jieba().lcut_for_search(run)


@cache
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@cache
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


@cache
def _jieba():  # type: ignore[no-untyped-def]
    """jieba's tokenizer, its dictionary loaded once, without its start-up chatter on the log."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.dt
