"""Which language a text is in, as far as ragkit needs to know: Chinese or not."""

from __future__ import annotations

import re

HAN = re.compile(r"[\u4e00-\u9fff]")  # the CJK Unified Ideographs block: the characters Chinese is written in
_KANA = re.compile(r"[\u3040-\u30ff]")  # Japanese writes Han characters too


def is_chinese(text: str) -> bool:
    """Han characters and no Japanese kana: the language of a question's reply, retries and retrieval weights."""
    return HAN.search(text) is not None and _KANA.search(text) is None
