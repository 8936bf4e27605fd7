"""Checks on generated answers, shared by the end-to-end tests."""

import re

HAN = re.compile(r"[\u4e00-\u9fff]")


def in_chinese(text: str) -> bool:
    return HAN.search(text) is not None


def states(text: str, fact: str) -> bool:
    """Whether ``text`` contains ``fact`` as a whole number or name: "20" is not stated by "200"."""
    return re.search(rf"(?<![0-9]){re.escape(fact)}(?![0-9])", text) is not None
