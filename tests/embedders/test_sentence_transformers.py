import numpy as np
import pytest

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


@pytest.fixture(scope="module")
def minilm_float32() -> SentenceTransformerEmbedder:
    """Exact comparisons across batch shapes need float32: in bfloat16 (``auto`` on CPUs with native bf16)
    a different padding or batch size alone moves the vectors by ~1e-3."""
    return SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(dtype="float32", show_progress=False))


def test_length_sorted_batches_return_rows_in_input_order(minilm_float32: SentenceTransformerEmbedder) -> None:
    embedder = minilm_float32
    texts = ["short", "a much longer text about vector stores " * 8, "medium sized sentence here", "x " * 100, "tiny"]
    together = embedder.embed_documents(texts)
    alone = np.stack([embedder.embed_documents([text])[0] for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_batches_respect_the_token_budget_and_row_limit() -> None:
    from ragkit.embedders.sentence_transformers import _batches

    token_ids = [[0] * n for n in (50, 10, 40, 30, 20, 5)]
    order = sorted(range(6), key=lambda i: len(token_ids[i]), reverse=True)
    batches = list(_batches(order, token_ids, max_rows=3, max_tokens=100))
    assert [index for batch in batches for index in batch] == order
    for batch in batches:
        assert len(batch) <= 3 and max(len(token_ids[i]) for i in batch) * len(batch) <= 100
    assert batches == [[0, 2], [3, 4, 1], [5]]


def test_out_of_memory_halves_the_batch(minilm_float32: SentenceTransformerEmbedder, monkeypatch, caplog) -> None:
    import logging

    from oom import failing_above

    embedder = minilm_float32
    texts = [f"sentence {i} about chunking and embeddings" for i in range(8)]
    expected = embedder.embed_documents(texts)
    monkeypatch.setattr(embedder, "_forward", failing_above(2, embedder._forward))
    with caplog.at_level(logging.WARNING):
        np.testing.assert_allclose(embedder.embed_documents(texts), expected, atol=1e-5)
    assert "embedding: out of GPU memory with a batch of 8" in caplog.text


def test_models_without_prompts_embed_as_sentence_transformers_does(minilm: SentenceTransformerEmbedder) -> None:
    texts = ["How large is the vocabulary?", "向量检索比较的是语义", "a longer passage about chunk sizes " * 6]
    model = minilm.model
    np.testing.assert_allclose(minilm.embed_queries(texts), model.encode_query(texts, normalize_embeddings=True), atol=2e-3)
    np.testing.assert_allclose(minilm.embed_documents(texts), model.encode_document(texts, normalize_embeddings=True), atol=2e-3)


def test_counted_ids_are_reused_exactly_as_the_tokenizer_would_make_them(minilm: SentenceTransformerEmbedder) -> None:
    """A chunk counted for the chunker is not tokenized again to embed it: the ids are the tokenizer's own."""
    texts = ["The osprey dives.", "向量检索比较的是语义", "a passage far longer than the model reads " * 80, ""]
    counts = minilm.count_tokens(texts)
    model = minilm.model
    direct = model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"]
    assert minilm._token_ids(texts, "") == direct
    assert counts[2] > model.max_seq_length and len(direct[2]) == model.max_seq_length  # cut as the tokenizer cuts


def test_bert_models_may_run_in_float16_on_a_gpu() -> None:
    from ragkit import models
    from ragkit.embedders.sentence_transformers import _overflows_float16

    assert not _overflows_float16(models.resolve("all-MiniLM-L6-v2").location)


@pytest.mark.models
@pytest.mark.multilingual
class TestEmbeddingGemma:
    """The multilingual model: its own query and document prompts, a 2048-token limit, bfloat16 where float16 would overflow."""

    def test_queries_and_documents_get_the_model_prompts(self, gemma: SentenceTransformerEmbedder) -> None:
        texts = ["星河-3 嵌入模型的向量维度是多少？", "The Heron serving stack allows 48 sequences per GPU.", "短"]
        model = gemma.model
        queries, documents = gemma.embed_queries(texts), gemma.embed_documents(texts)
        # bf16 on this CPU: sentence-transformers batches differently, which moves the last bits
        np.testing.assert_allclose(queries, model.encode_query(texts, normalize_embeddings=True), atol=3e-3)
        np.testing.assert_allclose(documents, model.encode_document(texts, normalize_embeddings=True), atol=3e-3)
        assert np.all(np.sum(queries * documents, axis=1) < 0.98)  # the prompts make the two sides differ

    def test_a_chunk_at_the_limit_still_fits_with_the_document_prompt(self, gemma: SentenceTransformerEmbedder) -> None:
        model = gemma.model
        words = gemma.max_tokens
        while gemma.count_tokens([" ".join(["retrieval"] * words)])[0] > gemma.max_tokens:
            words -= 1
        text = " ".join(["retrieval"] * words)
        prompted = model.tokenizer(model.prompts["document"] + text)["input_ids"]
        assert gemma.max_tokens > 2000 and len(prompted) <= model.max_seq_length

    def test_a_chinese_question_finds_the_english_passage_and_back(self, gemma: SentenceTransformerEmbedder) -> None:
        passages = gemma.embed_documents([
            "The Heron serving stack allows at most 48 concurrent sequences per GPU.",
            "团队使用的中文重排序模型叫作“松针”。",
            "Bananas are a yellow fruit rich in potassium.",
        ])
        questions = gemma.embed_queries(["Heron 服务栈每块 GPU 最多允许多少个并发序列？", "What is the team's Chinese reranking model called?"])
        scores = questions @ passages.T
        assert scores[0].argmax() == 0 and scores[1].argmax() == 1

    def test_never_float16(self, gemma: SentenceTransformerEmbedder) -> None:
        from ragkit import models
        from ragkit.embedders.sentence_transformers import _overflows_float16

        assert _overflows_float16(models.resolve("embeddinggemma-300m").location)


def test_a_question_asked_again_is_not_embedded_again(minilm: SentenceTransformerEmbedder, monkeypatch) -> None:
    encoded: list[list[str]] = []
    encode = minilm._encode
    monkeypatch.setattr(minilm, "_encode", lambda texts, prompt: encoded.append(texts) or encode(texts, prompt))
    first = minilm.embed_queries(["How do I limit a container's memory?", "What is a chroot?"])
    again = minilm.embed_queries(["What is a chroot?", "How do I limit a container's memory?", "What is a chroot?"])
    assert np.array_equal(again, first[[1, 0, 1]]) and encoded == [["How do I limit a container's memory?", "What is a chroot?"]]
    again[0] = 0  # the caller's copy: the memo's vectors stay as they were
    assert np.array_equal(minilm.embed_queries(["What is a chroot?"])[0], first[1])

@pytest.fixture(scope="module")
def onnx_installed() -> None:
    """Skips, naming the install, where the onnx-int8 backend's packages are missing (scripts/setup.sh installs them)."""
    from ragkit.embedders import onnx_int8

    if (missing := onnx_int8.missing_package()) is not None:
        pytest.skip(f"backend onnx-int8 needs {missing}: {onnx_int8.INSTALL}")


@pytest.fixture(scope="module")
def embedders(onnx_installed: None, tmp_path_factory: pytest.TempPathFactory):
    """(onnx-int8, float32 torch) over a model cache of their own, so the user's cache is left as it was."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAGKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
        int8 = SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(backend="onnx-int8", show_progress=False))
        int8.warm_up()
        yield int8, SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(backend="torch", dtype="float32", show_progress=False))


class TestOnnxInt8:
    """``backend: onnx-int8``: the int8 copy exported once into the model cache, run by ONNX Runtime."""

    def test_vectors_keep_a_cosine_of_0_99_with_torch_on_real_chunks(self, embedders) -> None:
        from paths import SAMPLE_DOCS

        from ragkit.chunkers.recursive import RecursiveChunker
        from ragkit.types import Document

        int8, float32 = embedders
        chunker = RecursiveChunker(RecursiveChunker.Config(), counter=float32)
        files = [*sorted((SAMPLE_DOCS / "guides").glob("*.md")), *sorted((SAMPLE_DOCS / "notes").glob("*.txt"))]
        texts = [chunk.text for path in files for chunk in chunker.chunk(Document(path.read_text("utf-8"), {"source": path.name}))]
        cosines = np.sum(int8.embed_documents(texts) * float32.embed_documents(texts), axis=1)
        assert len(texts) > 20 and cosines.min() >= 0.99, sorted(cosines)[:3]

    def test_tokens_and_limits_are_the_torch_models_and_the_fingerprint_is_not(self, embedders) -> None:
        int8, float32 = embedders
        texts = ["hello world", "", "向量检索", "a longer passage about chunk sizes " * 6]
        assert int8.count_tokens(texts) == float32.count_tokens(texts) and int8.max_tokens == float32.max_tokens == 254
        assert int8.fingerprint != float32.fingerprint
        assert float32.fingerprint == "sentence-transformers:all-MiniLM-L6-v2:normalize=True"  # stores built before still match

    def test_the_export_happens_once(self, onnx_installed: None, tmp_path, monkeypatch, caplog) -> None:
        import logging

        monkeypatch.setenv("RAGKIT_CACHE", str(tmp_path))
        with caplog.at_level(logging.INFO, logger="ragkit.embedders.onnx_int8"):
            SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(backend="onnx-int8")).warm_up()
            assert "exporting the embedder to ONNX int8" in caplog.text
            exported = tmp_path / "models" / "all-MiniLM-L6-v2" / "onnx-int8" / "model.onnx"
            written = exported.stat().st_mtime_ns
            caplog.clear()
            second = SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(backend="onnx-int8", show_progress=False))
            assert second.embed_queries(["reused"]).shape == (1, 384)
        assert "exporting" not in caplog.text and exported.stat().st_mtime_ns == written
        assert sorted(path.name for path in exported.parent.iterdir()) == ["model.onnx"]  # no work files left

    @pytest.mark.parametrize("package", ["onnxruntime", "onnx"])
    def test_a_missing_package_falls_back_to_torch_with_one_line(self, package: str, tmp_path) -> None:
        import os
        import subprocess
        import sys

        from paths import REPO

        script = (
            f"import logging, sys; sys.modules[{package!r}] = None; logging.basicConfig(format='%(message)s')\n"
            "from ragkit.embedders.sentence_transformers import SentenceTransformerEmbedder as E\n"
            "embedder = E(E.Config(backend='onnx-int8', show_progress=False))\n"
            "print(embedder.fingerprint, embedder.fingerprint, embedder.embed_queries(['still embeds']).shape)\n"
        )
        env = {**os.environ, "RAGKIT_CACHE": str(tmp_path)}
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
        assert done.returncode == 0, done.stderr
        torch_fingerprint = "sentence-transformers:all-MiniLM-L6-v2:normalize=True"
        assert done.stdout.split() == [torch_fingerprint, torch_fingerprint, "(1,", "384)"]
        lines = [line for line in done.stderr.splitlines() if "onnx-int8" in line]
        assert lines == [
            f"embedder backend onnx-int8 needs the package {package}, which is not installed "
            "(pip install 'ragkit[onnx]'); embedding with torch instead"
        ]
        assert not (tmp_path / "models").exists()
