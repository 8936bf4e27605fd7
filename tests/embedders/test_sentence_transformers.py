import numpy as np

from ragkit.embedders.sentence_transformers import SentenceTransformerEmbedder


def test_constructor_is_cheap() -> None:
    embedder = SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config())
    assert embedder._model is None


def test_vectors_are_normalised_and_batched(minilm: SentenceTransformerEmbedder) -> None:
    texts = [f"sentence number {i} about retrieval" for i in range(70)]
    vectors = minilm.embed_documents(texts)
    assert vectors.shape == (70, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(minilm.embed_queries([texts[3]])[0], vectors[3], atol=1e-5)
    assert minilm.embed_documents([]).shape == (0, 384)


def test_similar_texts_score_higher(minilm: SentenceTransformerEmbedder) -> None:
    query = minilm.embed_queries(["How large is the vocabulary of the tokenizer?"])[0]
    docs = minilm.embed_documents(["The tokenizer vocabulary has 48000 entries.", "Bananas are yellow fruit."])
    assert docs[0] @ query > docs[1] @ query + 0.2


def test_token_limit_and_counts(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.max_tokens == 254  # 256 minus [CLS] and [SEP]
    assert minilm.count_tokens(["hello world", "", "向量检索"]) == [2, 0, 4]
    assert minilm.fingerprint.startswith("sentence-transformers:all-MiniLM-L6-v2")
