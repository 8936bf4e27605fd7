"""The store contract, for an embedded Chroma and for a Chroma server (started by the test run)."""

import re
import uuid
from pathlib import Path

import numpy as np
import pytest

from ragkit.ingest.state import StateFiles
from ragkit.stores.chroma import ChromaStore
from ragkit.types import Chunk


def _unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.fixture(params=["embedded", "server"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> ChromaStore.Config:
    """A fresh, empty collection: a new folder, or a new collection on the shared server."""
    if request.param == "embedded":
        return ChromaStore.Config(path=str(tmp_path / "chroma"))
    server = request.getfixturevalue("chroma_server")
    return ChromaStore.Config.model_validate(server.store_keys(f"test-{uuid.uuid4().hex}"))


@pytest.fixture()
def store(config: ChromaStore.Config) -> ChromaStore:
    return ChromaStore(config)


def _chunks() -> list[Chunk]:
    return [
        Chunk("alpha text", {"source": "a.md", "file_type": "md", "ordinal": 0, "title": None}),
        Chunk("beta text", {"source": "a.md", "file_type": "md", "ordinal": 1}),
        Chunk("page two", {"source": "b.pdf", "file_type": "pdf", "ordinal": 0, "page": 2}),
    ]


def test_upsert_twice_keeps_one_copy(store: ChromaStore) -> None:
    vectors = _unit(3)
    store.upsert(_chunks(), vectors)
    store.upsert(_chunks(), vectors)
    assert store.count() == 3
    assert sorted(store.ids()) == sorted(chunk.id for chunk in _chunks())


def test_query_ranks_by_cosine_and_returns_metadata(store: ChromaStore) -> None:
    vectors = _unit(3)
    store.upsert(_chunks(), vectors)
    hits = store.query(vectors[2:3], k=3)[0]
    assert hits[0].text == "page two" and hits[0].page == 2 and hits[0].source == "b.pdf"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
    expected = sorted((float(vectors[2] @ v) for v in vectors), reverse=True)
    assert [round(hit.score, 4) for hit in hits] == [round(score, 4) for score in expected]
    assert "title" not in hits[1].metadata and "title" not in hits[2].metadata  # None values are dropped


def test_filters_on_one_and_several_keys(store: ChromaStore) -> None:
    vectors = _unit(3)
    store.upsert(_chunks(), vectors)
    assert {hit.source for hit in store.query(vectors[2:3], 3, {"source": "a.md"})[0]} == {"a.md"}
    assert [hit.text for hit in store.query(vectors[:1], 3, {"file_type": "pdf", "page": 2})[0]] == ["page two"]
    assert store.query(vectors[:1], 3, {"file_type": "pdf", "page": 9}) == [[]]


def test_delete_and_stats(store: ChromaStore) -> None:
    store.upsert(_chunks(), _unit(3))
    stats = store.stats()
    assert (stats["chunks"], stats["documents"], stats["files"]) == (3, 2, 2)
    store.delete(store.ids({"source": "a.md"}))
    assert store.count() == 1 and store.stats()["files"] == 1


def test_persists_across_clients(config: ChromaStore.Config) -> None:
    ChromaStore(config).upsert(_chunks(), _unit(3))
    assert ChromaStore(config).count() == 3


def test_empty_store_query_returns_nothing(store: ChromaStore) -> None:
    assert store.query(_unit(2), 5) == [[], []]


def test_one_call_answers_a_batch_of_queries(store: ChromaStore) -> None:
    vectors = _unit(3)
    store.upsert(_chunks(), vectors)
    batch = store.query(vectors, k=1)
    assert [hits[0].id for hits in batch] == [chunk.id for chunk in _chunks()]


def test_state_files_go_next_to_the_data_or_in_a_folder_named_after_the_server(tmp_path: Path) -> None:
    embedded = ChromaStore(ChromaStore.Config(path=str(tmp_path / "chroma"), collection="docs"))
    assert StateFiles.of(None, embedded).path("lock") == tmp_path / "chroma" / "docs.lock"
    server = ChromaStore(ChromaStore.Config(mode="server", host="db.example", port=8001, collection="docs"))
    assert StateFiles.of(None, server).path("lock") == Path(".ragkit/state/db.example_8001/docs.lock")
    chosen = StateFiles.of(str(tmp_path / "state"), server)
    assert chosen.path("manifest.sqlite") == tmp_path / "state" / "docs.manifest.sqlite"
    assert StateFiles.of(str(tmp_path / "state"), embedded).folder == tmp_path / "state"


def test_state_path_in_the_store_section_says_where_it_went() -> None:
    with pytest.raises(ValueError, match="'state_path' is no store key any more: set the pipeline's top-level `state"):
        ChromaStore.Config.model_validate({"mode": "server", "state_path": "x"})


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"mode": "server", "path": "x"}, "'path' is not used in mode 'server'"),
        ({"host": "db", "token_env": "T"}, "'host', 'token_env' are not used in mode 'embedded' (add `mode: server`"),
    ],
)
def test_keys_of_the_other_mode_are_refused(keys: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ChromaStore.Config.model_validate(keys)


def test_a_config_with_every_key_at_its_default_validates_in_both_modes() -> None:
    server = ChromaStore.Config(mode="server", port=8001, token_env="T")
    assert ChromaStore.Config.model_validate(server.model_dump()) == server
    embedded = ChromaStore.Config(path="elsewhere")
    assert ChromaStore.Config.model_validate(embedded.model_dump()) == embedded


def test_scan_pages_through_every_chunk_with_its_id(store: ChromaStore) -> None:
    chunks = [Chunk(f"text {n}", {"source": f"{n}.md", "ordinal": n}) for n in range(7)]
    store.upsert(chunks, _unit(7))
    pages = list(store.scan(batch_size=3))
    assert [len(ids) for ids, _ in pages] == [3, 3, 1]
    seen = {chunk_id: chunk for ids, page in pages for chunk_id, chunk in zip(ids, page)}
    assert seen == {chunk.id: chunk for chunk in chunks}


def test_vectors_come_back_in_the_order_asked(store: ChromaStore) -> None:
    vectors = _unit(3)
    store.upsert(_chunks(), vectors)
    ids = [chunk.id for chunk in _chunks()]
    assert np.allclose(store.vectors([ids[2], ids[0]]), vectors[[2, 0]], atol=1e-6)
    assert store.vectors([]).size == 0


def test_a_query_returns_the_stored_vectors_only_when_asked(store: ChromaStore) -> None:
    vectors = _unit(3)
    store.upsert(_chunks(), vectors)
    [with_vectors] = store.query(vectors[:1], 3, with_vectors=True)
    rows = {chunk.id: row for chunk, row in zip(_chunks(), vectors)}
    assert len(with_vectors) == 3 and all(np.allclose(hit.vector, rows[hit.id], atol=1e-6) for hit in with_vectors)
    [without] = store.query(vectors[:1], 3)
    assert [hit.id for hit in without] == [hit.id for hit in with_vectors] and all(hit.vector is None for hit in without)


def test_chunks_another_process_deleted_never_come_back_without_text(tmp_path: Path) -> None:
    """The embedded client's in-memory vector index keeps ids another process deleted; they are no hits."""
    import subprocess
    import sys

    path = tmp_path / "chroma"
    store = ChromaStore(ChromaStore.Config(path=str(path)))
    chunks, vectors = _chunks(), _unit(3)
    store.upsert(chunks, vectors)
    assert len(store.query(vectors[:1], k=3)[0]) == 3  # the vector index is now loaded in this process
    deleted = [chunks[0].id, chunks[2].id]
    script = (
        "import sys; from ragkit.stores.chroma import ChromaStore\n"
        "ChromaStore(ChromaStore.Config(path=sys.argv[1])).delete(sys.argv[2:])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path), *deleted], check=True, timeout=120)
    hits = store.query(vectors[:1], k=3)[0]
    assert all(hit.text for hit in hits) and not {hit.id for hit in hits} & set(deleted)


def test_chunks_at_returns_one_documents_chunks_at_the_ordinals(store: ChromaStore) -> None:
    chunks = [*_chunks(), Chunk("page three", {"source": "b.pdf", "file_type": "pdf", "ordinal": 1, "page": 3})]
    store.upsert(chunks, _unit(len(chunks)))
    assert sorted(chunk.text for chunk in store.chunks_at({"source": "a.md"}, [1, 5])) == ["beta text"]
    assert [chunk.text for chunk in store.chunks_at({"source": "b.pdf", "page": 3}, [0, 1])] == ["page three"]
    assert store.chunks_at({"source": "a.md"}, []) == []
