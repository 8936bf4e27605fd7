"""ragkit against LlamaIndex, LangChain and Haystack in one run: ingest speed, or retrieval quality.

    python benchmarks/peers/run.py FOLDER                # ingest speed (issue 3)
    python benchmarks/peers/run.py --retrieval FOLDER    # retrieval quality on the dev set (issue 4)
    python benchmarks/peers/run.py --answers             # answer accuracy on the test halves, same generator

Run it with ragkit's python (``/work/venv/bin/python`` or ``.venv/bin/python``) after
``bash benchmarks/peers/setup.sh``. Every system runs in its own process, one after the other,
ingesting FOLDER into a fresh persistent store in a scratch folder: ragkit through
``peer_ragkit.py`` with each ``--pipelines`` file (default: ``pipelines/default.yaml``), each
peer through ``peer_<name>.py`` with its own virtualenv. All embed with the same model folder:
the one ragkit's first pipeline resolves its embedder to.

Ingest speed: a table of seconds (import + setup + load + chunk + embed and write, measured
inside each process; the process's wall time beside it), files/s, chunks and each system's time
over ragkit's. The target: the fastest peer takes at least 1.5x ragkit's time. ``--repeat N``
runs every system N times, rotating the order, and keeps each one's fastest run.

Retrieval quality: each system ingests FOLDER, then retrieves the top ``--k`` chunks for every
question of ``--questions``; a question is answered at rank r when the r-th chunk comes from its
gold ``file`` (paths compared by suffix: ``html/x.html`` matches ``x.html``). The table gives
hit@1/3/5/10 and MRR@k for ragkit's pipelines and every peer mode (dense, keyword, hybrid).

Answers: LlamaIndex's default query engine and Haystack's RAG pipeline, each with the generator
ragkit's pipeline uses (the same transformers folder, greedy, 256 new tokens), the same embedder
and top-k 5, answer the ``test`` half of ``benchmarks/eval/answers_<set>.jsonl`` (only ids and
questions reach the peers) over a store each ingested from the set's corpus
(``--sets zh=/tmp/corpus_zh/full,en=/tmp/corpus/full``; stores kept in ``--stores DIR/<peer>-<set>``
and reused). Replies are scored here, with ragkit's python, by ragkit's rule:
``ragkit.evaluation.contains_answers`` for a correct answer, an empty reply or one
``ragkit.grounding.is_refusal`` matches for an abstention. ``--ragkit-results FILE...`` adds
ragkit's own rows from ``benchmarks/answers.py`` result files. Written to
``benchmarks/results/peers_answers_test.json``.

Results go to ``benchmarks/results/peers_<ingest|retrieval>_<folder name>.json`` unless ``--json``;
``run.py --table RESULTS.json`` prints a saved run's table again.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from ragkit.config import load_yaml  # noqa: E402
from ragkit.evaluation import contains_answers  # noqa: E402
from ragkit.grounding import is_refusal  # noqa: E402
from ragkit.devices import resolve_device  # noqa: E402
from ragkit.generators.huggingface import resolve_model  # noqa: E402
from ragkit.models import resolve  # noqa: E402

PEERS = ("llamaindex", "langchain", "haystack")
DEPTHS = (1, 3, 5, 10)
# ../shared next to the main checkout; a worktree may sit one level deeper.
SHARED = next((parent / "shared" for parent in REPO.parents if (parent / "shared" / "eval").is_dir()), REPO.parent / "shared")
QUESTIONS = SHARED / "eval" / "dev_debian_faq.jsonl"
ANSWER_SETS = REPO / "benchmarks" / "eval"  # answers_<set>.jsonl, with a dev and a test half
ANSWER_PEERS = ("llamaindex", "haystack")  # the peers with an ``answer`` command
DEFAULT_SETS = "zh=/tmp/corpus_zh/full,en=/tmp/corpus/full"
# What each virtualenv's versions are reported for (those installed, of these).
PACKAGES = (
    "torch", "transformers", "sentence-transformers", "tokenizers", "chromadb", "pypdf", "beautifulsoup4", "lxml",
    "llama-index-core", "llama-index-embeddings-huggingface", "llama-index-readers-file",
    "llama-index-vector-stores-chroma", "llama-index-retrievers-bm25", "bm25s",
    "langchain", "langchain-core", "langchain-classic", "langchain-community", "langchain-huggingface",
    "langchain-chroma", "langchain-text-splitters", "rank-bm25",
    "haystack-ai", "chroma-haystack", "sentence-transformers-haystack", "trafilatura", "markdown-it-py", "mdit-plain",
    "llama-index-llms-huggingface", "transformers-haystack", "accelerate",
)


@dataclass(frozen=True)
class System:
    """One contender: a script, the python that runs it, and the extra arguments it takes."""

    name: str
    python: Path
    script: Path
    extra: tuple[str, ...]

    def available(self) -> bool:
        return self.python.exists()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, nargs="?", help="the folder every system ingests")
    parser.add_argument("--retrieval", action="store_true", help="measure retrieval quality instead of ingest speed")
    parser.add_argument("--answers", action="store_true",
                        help="answer accuracy of the peers on the test halves, with ragkit's generator (no FOLDER)")
    parser.add_argument("--sets", default=DEFAULT_SETS,
                        help=f"answers: NAME=CORPUS,... (questions from benchmarks/eval/answers_NAME.jsonl); default {DEFAULT_SETS}")
    parser.add_argument("--half", default="test", choices=("dev", "test"), help="answers: the half asked (default test)")
    parser.add_argument("--stores", type=Path, default=Path("/tmp/peer_stores"),
                        help="answers: the peers' stores, DIR/<peer>-<set>, ingested when missing and then reused")
    parser.add_argument("--raw", type=Path, default=Path("/tmp/peer_answers"),
                        help="answers: each peer's replies, DIR/<peer>-<set>-<half>.json; a complete one is reused")
    parser.add_argument("--fresh", action="store_true", help="answers: generate again even where complete replies exist")
    parser.add_argument("--partial", action="store_true",
                        help="answers: only score the replies saved in --raw so far (of a run cut short), generating nothing")
    parser.add_argument("--limit", type=int, default=None, help="answers: only the first N questions of each half")
    parser.add_argument("--ragkit-results", type=Path, nargs="*", default=[],
                        help="answers: benchmarks/answers.py result files (answers-HALF-SET-LABEL.json) for ragkit's rows")
    parser.add_argument("--note", default="", help="answers: what else ran on the machine, kept with the results")
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="JSONL with question, id and gold file")
    parser.add_argument("--pipelines", type=Path, nargs="+", default=[REPO / "pipelines" / "default.yaml"],
                        help="ragkit pipeline files, each measured (default: pipelines/default.yaml)")
    parser.add_argument("--peers", default=",".join(PEERS), help=f"comma-separated, of: {', '.join(PEERS)}")
    parser.add_argument("--modes", default="dense,keyword,hybrid", help="the peers' retrieval modes")
    parser.add_argument("--k", type=int, default=None, help="chunks retrieved per question (10; answers: 5, ragkit's top_k)")
    parser.add_argument("--repeat", type=int, default=1, help="ingest runs per system (the fastest counts)")
    parser.add_argument("--stop-slower", action="store_true",
                        help="stop a peer's ingest once it has run longer than the fastest peer so far (on a large "
                             "folder this spares hours: only the fastest peer's time sets the target)")
    parser.add_argument("--json", type=Path, default=None, help="where to write the results")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder with the stores and logs")
    parser.add_argument("--table", type=Path, default=None, help="only print the table of a results JSON written before")
    args = parser.parse_args()

    if args.table:
        saved = json.loads(args.table.read_text())
        print(_answers_table(saved) if "answer_scores" in saved
              else _retrieval_table(saved) if "scores" in saved else _ingest_table(saved))  # fmt: skip
        return
    if args.answers:
        args.k = args.k or 5
        _answers(args)
        return
    args.k = args.k or 10
    if args.folder is None:
        parser.error("give the FOLDER to ingest (or --table RESULTS.json)")
    folder = args.folder.resolve()
    if not folder.is_dir():
        parser.error(f"{folder} is not a folder")
    peers = [name.strip() for name in args.peers.split(",") if name.strip()]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"--peers: unknown {', '.join(unknown)}; known: {', '.join(PEERS)}")
    names = [pipeline.name for pipeline in args.pipelines]
    if len(set(names)) < len(names):
        parser.error(f"--pipelines: give files with different names (they label the results): {', '.join(names)}")
    systems = _systems(args.pipelines, peers)
    missing = [system.name for system in systems if not system.available()]
    if missing:
        sys.exit(f"no virtualenv for {', '.join(missing)}: run `bash benchmarks/peers/setup.sh` first")
    model = resolve(load_yaml(args.pipelines[0]).stage_configs()["embedder"].model).location  # type: ignore[attr-defined]
    kind = "retrieval" if args.retrieval else "ingest"
    out = args.json or REPO / "benchmarks" / "results" / f"peers_{kind}_{folder.name}.json"

    scratch = Path(tempfile.mkdtemp(prefix="ragkit-peers-"))
    _progress(f"{kind}: {folder}; model {model}; scratch {scratch}")
    results: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "folder": str(folder),
        "model": model,
        "versions": {system.name: _versions(system.python) for system in systems},
    }
    try:
        if args.retrieval:
            results.update(_retrieval(systems, folder, model, args, scratch))
            text = _retrieval_table(results)
        else:
            results.update(_ingest(systems, folder, model, args.repeat, scratch, args.stop_slower))
            text = _ingest_table(results)
        _finish(results, text, out)
    finally:
        _clean(scratch, args.keep)


def _finish(results: dict[str, Any], text: str, out: Path, **dump: Any) -> None:
    """The table into the results, the results into ``out`` (``dump``: json.dumps options), the table printed."""
    results["table"] = text
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, **({"indent": 2} | dump)), encoding="utf-8")
    print(text)
    _progress(f"wrote {out}")


def _clean(scratch: Path, keep: bool) -> None:
    if keep:
        _progress(f"kept {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)


def _systems(pipelines: Sequence[Path], peers: Sequence[str]) -> list[System]:
    """ragkit once per pipeline file (labelled by file name when there are several), then the peers."""
    systems = [
        System(
            "ragkit" if len(pipelines) == 1 else f"ragkit ({pipeline.name})",
            Path(sys.executable),
            HERE / "peer_ragkit.py",
            ("--pipeline", str(pipeline.resolve())),
        )
        for pipeline in pipelines
    ]
    for name in peers:
        systems.append(System(name, HERE / ".venvs" / name / "bin" / "python", HERE / f"peer_{name}.py", ()))
    return systems


def _ingest(
    systems: list[System], folder: Path, model: str, repeat: int, scratch: Path, stop_slower: bool
) -> dict[str, Any]:
    """Every system ingests ``folder`` ``repeat`` times, in an order that rotates; each one's fastest run counts.

    With ``stop_slower``, a peer is stopped once its process has run as long as
    the fastest peer's finished process: it cannot be the fastest any more.
    """
    runs: dict[str, list[dict[str, Any]]] = {system.name: [] for system in systems}
    for round_ in range(repeat):
        order = systems[round_ % len(systems):] + systems[: round_ % len(systems)]
        for system in order:
            store = scratch / f"store-{_slug(system.name)}-{round_}"
            finished = [run["process_seconds"] for name in PEERS for run in runs.get(name, []) if "error" not in run]
            limit = min(finished) if stop_slower and finished and system.name in PEERS else None
            result = _run_ingest(system, folder, model, store, scratch, limit)
            runs[system.name].append(result)
            shutil.rmtree(store, ignore_errors=True)
    best = {
        name: min((run for run in done if "error" not in run), key=lambda run: run["seconds"], default=done[-1])
        for name, done in runs.items()
    }
    return {"repeat": repeat, "runs": runs, "best": best}


def _run_ingest(
    system: System, folder: Path, model: str, store: Path, scratch: Path, limit: float | None = None
) -> dict[str, Any]:
    out = scratch / f"ingest-{_slug(system.name)}-{store.name}.json"
    command = ["ingest", str(folder), "--store", str(store), "--json", str(out), *system.extra]
    if system.name in PEERS:
        command += ["--model", model]
    _progress(f"{system.name}: ingest")
    load_before = os.getloadavg()[0]
    wall, error = _call(system, command, scratch / f"{out.stem}.log", limit)
    load = {"load_before": load_before, "load_after": os.getloadavg()[0]}  # other work on the machine skews the timing
    if error:
        return {"error": error, "process_seconds": wall, **load}
    result = json.loads(out.read_text())
    result.update(process_seconds=wall, **load)
    _progress(f"{system.name}: {result['seconds']:.1f} s, {result['files']} files, {result['chunks']} chunks")
    return result


def _retrieval(systems: list[System], folder: Path, model: str, args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    """Every system ingests ``folder`` once, then answers every question; each (system, mode) is scored."""
    gold = {item["id"]: item["file"] for item in _questions(args.questions) if item.get("file")}
    ingests: dict[str, Any] = {}
    scores: list[dict[str, Any]] = []
    rankings: dict[str, Any] = {}
    for system in systems:
        store = scratch / f"store-{_slug(system.name)}"
        ingests[system.name] = ingest = _run_ingest(system, folder, model, store, scratch)
        if "error" in ingest:
            continue
        out = scratch / f"retrieve-{_slug(system.name)}.json"
        command = ["retrieve", "--store", str(store), "--questions", str(args.questions), "--k", str(args.k), "--json", str(out)]
        command += [*system.extra, *(["--model", model, "--modes", args.modes] if system.name in PEERS else [])]
        _progress(f"{system.name}: retrieve")
        _, error = _call(system, command, scratch / f"{out.stem}.log")
        if error:
            scores.append({"system": system.name, "mode": "-", "error": error})
            continue
        retrieved = json.loads(out.read_text())
        for mode, data in retrieved["modes"].items():
            ranked = {item["id"]: item["sources"] for item in data["questions"]}
            score = _score(ranked, gold, args.k)
            scores.append({"system": system.name, "mode": mode, "chunks": ingest["chunks"], "latency": data["latency"], **score})
            rankings[f"{system.name}/{mode}"] = ranked
            _progress(f"{system.name} {mode}: hit@1 {score['hit@1']:.3f}, MRR {score['mrr']:.3f}")
        ingests[system.name]["retrieve_setup_phases"] = retrieved["setup_phases"]
    return {"questions": str(args.questions), "scored": len(gold), "k": args.k, "ingests": ingests, "scores": scores, "rankings": rankings}


def _answers(args: argparse.Namespace) -> None:
    """Each answering peer over each set's test half; the replies scored by ragkit's rule; the table and the JSON."""
    peers = [name.strip() for name in args.peers.split(",") if name.strip() in ANSWER_PEERS]
    sets = [spec.partition("=")[::2] for spec in args.sets.split(",") if spec.strip()]
    pipeline = load_yaml(args.pipelines[0]).stage_configs()  # type: ignore[attr-defined]
    model = resolve(pipeline["embedder"].model).location
    # The model ragkit's generator loads on this machine (``auto``: the 0.5B on a CPU, the 1.5B on CUDA).
    generator = resolve_model(pipeline["generator"].model, resolve_device(pipeline["generator"].device))[1].converted_dir
    systems = [System(name, HERE / ".venvs" / name / "bin" / "python", HERE / f"peer_{name}.py", ()) for name in peers]
    missing = [system.name for system in systems if not system.available()]
    if missing:
        sys.exit(f"no virtualenv for {', '.join(missing)}: run `bash benchmarks/peers/setup.sh {' '.join(missing)}` first")
    out = args.json or REPO / "benchmarks" / "results" / f"peers_answers_{args.half}.json"
    scratch = Path(tempfile.mkdtemp(prefix="ragkit-peers-answers-"))
    args.raw.mkdir(parents=True, exist_ok=True)
    _progress(f"answers: {args.half} halves of {', '.join(name for name, _ in sets)}; generator {generator}; "
              f"embedder {model}; k {args.k}; scratch {scratch}")  # fmt: skip
    results: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "note": args.note,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "half": args.half,
        "k": args.k,
        "model": model,
        "generator": str(generator),
        "versions": {system.name: _versions(system.python) for system in systems},
        "ingests": {},
        "answer_scores": [],
        "answers": {},
    }
    try:
        for set_name, corpus in sets:
            questions = _half(set_name, args.half)[: args.limit]
            asked = scratch / f"questions-{set_name}.jsonl"  # ids and questions only: no gold reaches a peer
            asked.write_text("".join(json.dumps({"id": q["id"], "question": q["question"]}, ensure_ascii=False) + "\n"
                                     for q in questions), encoding="utf-8")  # fmt: skip
            for system in systems:
                label = f"{system.name}-{set_name}"
                store = args.stores / label
                raw = args.raw / f"{label}-{args.half}.json"
                if args.partial and not raw.exists():
                    results["answer_scores"].append({"set": set_name, "system": system.name, "error": f"not run: no replies in {raw}"})
                    continue
                if not args.partial and not (store / "peer-store.json").exists():
                    shutil.rmtree(store, ignore_errors=True)
                    results["ingests"][label] = ingest = _run_ingest(system, Path(corpus).resolve(), model, store, scratch)
                    if "error" in ingest:
                        results["answer_scores"].append({"set": set_name, "system": system.name, "error": ingest["error"]})
                        continue
                replies = _reusable(raw, questions, args) if not args.fresh else None
                if args.partial:
                    replies = json.loads(raw.read_text(encoding="utf-8"))
                load_before = os.getloadavg()[0]
                wall = None
                if replies is None:
                    command = ["answer", "--store", str(store), "--model", model, "--generator", str(generator),
                               "--questions", str(asked), "--k", str(args.k), "--json", str(raw)]  # fmt: skip
                    _progress(f"{system.name}: answer {len(questions)} {set_name} questions")
                    wall, error = _call(system, command, args.raw / f"{label}-{args.half}.log")
                    if error:
                        results["answer_scores"].append({"set": set_name, "system": system.name, "error": error})
                        continue
                    replies = json.loads(raw.read_text(encoding="utf-8"))
                else:
                    _progress(f"{system.name}: reusing the {set_name} replies in {raw}")
                score, rows = _score_answers(questions, replies)
                score.update(set=set_name, system=system.name, setup_phases=replies["setup_phases"],
                             process_seconds=wall, load_before=load_before, load_after=os.getloadavg()[0],
                             reused=wall is None)  # fmt: skip
                results["answer_scores"].append(score)
                results["answers"][f"{system.name}/{set_name}"] = {"settings": replies["settings"], "questions": rows}
                _progress(f"{system.name} {set_name}: accuracy {score['accuracy']:.3f}, abstention "
                          f"{score['abstention']:.3f}, false abstention {score['false_abstention']:.3f}")  # fmt: skip
        results["ragkit"] = [_ragkit_row(path) for path in args.ragkit_results]
        text = _answers_table(results)
        _finish(results, text, out, ensure_ascii=False, indent=1)
    finally:
        _clean(scratch, args.keep)


def _half(name: str, half: str) -> list[dict[str, Any]]:
    """The questions of one half of ``benchmarks/eval/answers_<name>.jsonl``."""
    lines = (ANSWER_SETS / f"answers_{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [item for item in (json.loads(line) for line in lines if line.strip()) if item.get("split") == half]


def _reusable(raw: Path, questions: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any] | None:
    """A peer's saved replies, when they answer every question asked with the same k; else None."""
    if not raw.exists():
        return None
    saved = json.loads(raw.read_text(encoding="utf-8"))
    done = {item["id"] for item in saved.get("questions", [])}
    return saved if saved.get("k") == args.k and {q["id"] for q in questions} <= done else None


def _score_answers(questions: list[dict[str, Any]], replies: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """ragkit's rule: correct when not an abstention and ``contains_answers``; an abstention when empty or a refusal.

    Questions without a reply (a run cut short, scored with ``--partial``) are counted as missing
    and left out of every share.
    """
    by_id = {item["id"]: item for item in replies["questions"]}
    rows = []
    for question in questions:
        reply = by_id.get(question["id"])
        if reply is None:
            rows.append({"id": question["id"], "answerable": bool(question["answers"]), "missing": True})
            continue
        text = reply["reply"]
        abstained = not text.strip() or is_refusal(text)
        answerable = bool(question["answers"])
        sources = reply["sources"]
        rows.append({
            "id": question["id"],
            "answerable": answerable,
            "reply": text,
            "abstained": abstained,
            "correct": answerable and not abstained and contains_answers(text, question["answers"]),
            "gold_file_retrieved": bool(question.get("file")) and any(_same_file(s, question["file"]) for s in sources),
            "sources": sources,
            "seconds": reply["seconds"],
            "missing": False,
        })  # fmt: skip
    answered = [row for row in rows if not row["missing"]]
    answerable = [row for row in answered if row["answerable"]]
    unanswerable = [row for row in answered if not row["answerable"]]
    seconds = [row["seconds"] for row in answered]
    score = {
        "questions": len(rows),
        "missing": sum(row["missing"] for row in rows),
        "answerable": len(answerable),
        "accuracy": _mean([row["correct"] for row in answerable]),
        "unanswerable": len(unanswerable),
        "abstention": _mean([row["abstained"] for row in unanswerable]),
        "false_abstention": _mean([row["abstained"] for row in answerable]),
        "gold_file_retrieved": _mean([row["gold_file_retrieved"] for row in answerable]),
        "seconds_per_question": _mean(seconds),
    }
    return score, rows


def _ragkit_row(path: Path) -> dict[str, Any]:
    """ragkit's figures from a ``benchmarks/answers.py`` result file, or a note that it is not there."""
    if not path.exists():
        _progress(f"no ragkit results at {path}; ragkit is left out of the table")
        return {"file": str(path), "missing": True}
    data = json.loads(path.read_text(encoding="utf-8"))
    metrics = data["metrics"]
    return {
        "file": str(path),
        "set": data.get("set"),
        "half": data.get("half"),
        # answers.py runs have carried overrides (``-o generator.max_new_tokens=96``): shown, since the peers get 256
        "system": f"ragkit ({', '.join([str(data.get('label')), *data.get('overrides', [])])})",
        "answerable": metrics["answers"]["questions"],
        "accuracy": metrics["answers"]["accuracy"],
        "unanswerable": metrics["abstention"]["questions"],
        "abstention": metrics["abstention"]["accuracy"],
        "false_abstention": metrics["false_abstention"]["rate"],
        "gold_file_retrieved": metrics.get("retrieval", {}).get("hit@5"),
        "seconds_per_question": data["seconds"] / max(metrics["questions"], 1),
    }


def _answers_table(results: dict[str, Any]) -> str:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [
        f"{results['half']} halves; generator {results['generator']}; embedder {results['model']}; top-k {results['k']}",
        "",
        "| set | system | accuracy (answerable) | abstention (unanswerable) | false abstention | gold file in top k "
        "| s/question | load avg before, after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = [row for row in results.get("ragkit", []) if not row.get("missing")] + results["answer_scores"]
    order = [name for name, _ in (spec.partition("=")[::2] for spec in DEFAULT_SETS.split(","))]
    rows.sort(key=lambda row: order.index(row["set"]) if row.get("set") in order else len(order))
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['set']} | {row['system']} | failed: {row['error']} |")
            continue
        half = "" if row.get("half") in (None, results["half"]) else f" ({row['half']} half!)"
        missing = f" (cut short: {row['questions'] - row['missing']} of {row['questions']} answered)" if row.get("missing") else ""
        load = _load(row) if row.get("process_seconds") else ("reused" if row.get("reused") else "-")
        lines.append(
            f"| {row['set']} | {row['system']}{half}{missing} | {share(row['accuracy'])} of {row['answerable']} "
            f"| {share(row['abstention'])} of {row['unanswerable']} | {share(row['false_abstention'])} "
            f"| {share(row['gold_file_retrieved'])} | {row['seconds_per_question']:.1f} | {load} |"
        )
    return "\n".join(lines)


def _score(ranked: dict[str, list[str]], gold: dict[str, str], k: int) -> dict[str, float]:
    """hit@n and MRR@k over the questions with a gold file; a question missing from ``ranked`` counts as a miss."""
    ranks = [_gold_rank(ranked.get(question, [])[:k], file) for question, file in gold.items()]
    scores = {f"hit@{depth}": _mean([rank is not None and rank <= depth for rank in ranks]) for depth in DEPTHS if depth <= k}
    scores["mrr"] = _mean([1 / rank if rank else 0.0 for rank in ranks])
    return scores


def _gold_rank(sources: list[str], gold: str) -> int | None:
    """The 1-based rank of the first source naming the gold file, or None."""
    for rank, source in enumerate(sources, start=1):
        if _same_file(source, gold):
            return rank
    return None


def _same_file(source: str, gold: str) -> bool:
    """Equal paths, or one ends with the other at a ``/`` (sources are relative to the folder ingested)."""
    a, b = source.replace("\\", "/").strip("/"), gold.replace("\\", "/").strip("/")
    return bool(a) and (a == b or a.endswith("/" + b) or b.endswith("/" + a))


def _call(system: System, command: list[str], log: Path, limit: float | None = None) -> tuple[float, str | None]:
    """Run one system's script, stopped after ``limit`` seconds; its output goes to ``log``.

    Returns the wall seconds and an error, if any.
    """
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    started = time.perf_counter()
    with open(log, "w") as handle:
        try:
            completed = subprocess.run(
                [str(system.python), str(system.script), *command],
                stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=log.parent, timeout=limit,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            wall = time.perf_counter() - started
            _progress(f"{system.name}: stopped after {wall:.1f} s, slower than the fastest peer")
            return wall, f"stopped after {wall:.1f} s: slower than the fastest peer"
    wall = time.perf_counter() - started
    if completed.returncode == 0:
        return wall, None
    tail = log.read_text(errors="replace").splitlines()[-15:]
    _progress(f"{system.name} failed (exit {completed.returncode}); last lines of {log}:\n" + "\n".join(tail))
    return wall, f"exit {completed.returncode}: {tail[-1] if tail else ''}"


def _versions(python: Path) -> dict[str, str]:
    """The installed versions of ``PACKAGES`` in the environment of ``python``."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "found = {}\n"
        "for name in sys.argv[1:]:\n"
        "    try: found[name] = m.version(name)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(found))"
    )
    if not python.exists():
        return {}
    output = subprocess.run([str(python), "-c", code, *PACKAGES], capture_output=True, text=True, check=True).stdout
    return json.loads(output)


def _ingest_table(results: dict[str, Any]) -> str:
    best = results["best"]
    ragkit = next(iter(best.values()))
    lines = [
        f"{results['folder']}; model {results['model']}; best of {results['repeat']} run(s) per system",
        "",
        "| system | s | process s | files | files/s | chunks | chunks/s | import | setup | load | chunk | embed+write "
        "| time / ragkit's | load avg before, after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, run in best.items():
        if "error" in run:
            stopped = run["error"].startswith("stopped")
            lines.append(f"| {name} | > {run['process_seconds']:.1f} (stopped: slower than the fastest peer) |" if stopped
                         else f"| {name} | failed: {run['error']} |")  # fmt: skip
            continue
        seconds, phases = run["seconds"], run["phases"]
        ratio = f"{seconds / ragkit['seconds']:.2f}" if "error" not in ragkit else "-"
        lines.append(
            f"| {name} | {seconds:.1f} | {run['process_seconds']:.1f} | {run['files']} | {run['files'] / seconds:.3f} | "
            f"{run['chunks']} | {run['chunks'] / seconds:.1f} | "
            + " | ".join(f"{phases.get(phase, 0.0):.1f}" for phase in ("import", "setup", "load", "chunk", "embed+write"))
            + f" | {ratio} | {_load(run)} |"
        )
    peers = [run for name, run in best.items() if name in PEERS and "error" not in run]
    if peers and "error" not in ragkit:
        fastest = min(peers, key=lambda run: run["seconds"])
        ratio = fastest["seconds"] / ragkit["seconds"]
        verdict = "met" if ratio >= 1.5 else "not met"
        lines += ["", f"fastest peer: {fastest['peer']}, {ratio:.2f}x ragkit's time (target >= 1.5x: {verdict})"]
    return "\n".join(lines)


def _load(run: dict[str, Any]) -> str:
    """The machine's 1-minute load average around a run (2 cores: above 2, other work competed)."""
    return f"{run['load_before']:.1f}, {run['load_after']:.1f}" if "load_before" in run else "-"


def _retrieval_table(results: dict[str, Any]) -> str:
    depths = [depth for depth in DEPTHS if depth <= results["k"]]
    lines = [
        f"{results['folder']}; {results['scored']} questions from {results['questions']}; model {results['model']}",
        "",
        "| system | retrieval | chunks | " + " | ".join(f"hit@{depth}" for depth in depths)
        + f" | MRR@{results['k']} | ms/question, median | mean |",
        "| --- | --- | --- | " + " | ".join("---" for _ in depths) + " | --- | --- | --- |",
    ]
    for row in results["scores"]:
        if "error" in row:
            lines.append(f"| {row['system']} | failed: {row['error']} |")
            continue
        lines.append(
            f"| {row['system']} | {row['mode']} | {row['chunks']} | "
            + " | ".join(f"{row[f'hit@{depth}']:.3f}" for depth in depths)
            + f" | {row['mrr']:.3f} | {row['latency']['p50_ms']:.1f} | {row['latency']['mean_ms']:.1f} |"
        )
    return "\n".join(lines)


def _questions(path: Path) -> list[dict[str, Any]]:
    """The question set, each with an ``id`` (its line number when it has none, as the scripts number them)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [{"id": str(number), **json.loads(line)} for number, line in enumerate(lines, start=1) if line.strip()]


def _mean(values: Sequence[float | bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def _slug(name: str) -> str:
    return "".join(char if char.isalnum() else "-" for char in name).strip("-")


def _progress(message: str) -> None:
    """Progress to stderr at once: a run cut short still shows how far it got."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
