"""The keyword index's tokenizer on English, Chinese and mixed text."""

import pytest

from ragkit.indexes.tokenizers import Tokenizer


def test_english_is_lowercased_without_stop_words_and_stemmed() -> None:
    assert Tokenizer()("The Chunker splits Documents into chunks") == ["chunker", "split", "document", "chunk"]


def test_stemming_and_stop_words_can_be_turned_off() -> None:
    assert Tokenizer(stemming=False, stopwords=False)("The Chunks of a file") == ["the", "chunks", "of", "a", "file"]


def test_identifiers_and_numbers_stay_whole() -> None:
    terms = Tokenizer(stemming=False)("Set batch_chunks to 512; Q4_K_M at 37 tokens/s, all-MiniLM-L6-v2.")
    assert terms == ["set", "batch_chunks", "512", "q4_k_m", "37", "tokens", "s", "all", "minilm", "l6", "v2"]


def test_chinese_becomes_overlapping_bigrams() -> None:
    assert Tokenizer()("向量检索。星河") == ["向量", "量检", "检索", "星河"]
    assert Tokenizer()("云") == ["云"]


def test_chinese_with_jieba_becomes_words_and_the_words_inside_them() -> None:
    terms = Tokenizer(chinese="jieba")("嵌入模型把文字转换成向量")
    assert {"嵌入", "模型", "文字", "向量", "转换", "转换成"} <= set(terms)
    assert "量把" not in terms  # words, not every pair of characters


@pytest.mark.parametrize("chinese", ["bigrams", "jieba"])
def test_mixed_text_keeps_each_language_rules(chinese: str) -> None:
    terms = Tokenizer(chinese=chinese)("星河-3 嵌入模型 supports the Chunking of 640 tokens")
    assert terms[:1] == ["星河"] and "3" in terms
    assert terms[-4:] == ["support", "chunk", "640", "token"]
    assert "嵌入" in terms


def test_query_and_passage_meet_on_the_same_terms() -> None:
    tokenize = Tokenizer()
    assert set(tokenize("How is chunking configured?")) & set(tokenize("The chunker is configured in YAML"))


def test_fingerprint_changes_with_every_setting() -> None:
    fingerprints = {
        Tokenizer().fingerprint,
        Tokenizer(stemming=False).fingerprint,
        Tokenizer(stopwords=False).fingerprint,
        Tokenizer(chinese="jieba").fingerprint,
    }
    assert len(fingerprints) == 4
