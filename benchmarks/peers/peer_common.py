"""What the peer scripts share: their command line, phase timing, store notes and the JSON they write.

Every peer script runs in its own virtualenv (see ``setup.sh``), and ``peer_ragkit.py`` in
ragkit's, so this module uses the standard library only. A peer script imports its framework
inside the timed ``import`` phase: a user pays that time on every ingest too.

    python peer_X.py ingest FOLDER --store DIR --model MODEL_DIR [--json OUT]
    python peer_X.py retrieve --store DIR --model MODEL_DIR --questions FILE [--k 10] [--modes dense,keyword,hybrid] [--json OUT]
    python peer_X.py answer --store DIR --model MODEL_DIR --generator LLM_DIR --questions FILE [--k 5] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# ragkit's default chunk size and overlap, in tokens of the embedder's tokenizer; each peer gets
# the closest setting its splitter offers (see README.md).
CHUNK_TOKENS = 200
CHUNK_OVERLAP = 30

# Written into each store by ``ingest``, read back by ``retrieve``: the folder ingested (to make
# sources relative to it) and what built the store.
STORE_NOTE = "peer-store.json"

IngestFn = Callable[[argparse.Namespace, "Phases"], dict[str, Any]]
# One retrieval mode: a question in, the ranked source paths of its top-k chunks out.
Search = Callable[[str], list[str]]
# Build the searches of the modes asked for, from the store; returns them by mode name.
RetrieveFn = Callable[[argparse.Namespace, list[str], "Phases"], dict[str, Search]]
# One question answered: the reply's text and the source paths of the chunks it was given, best first.
Ask = Callable[[str], tuple[str, list[str]]]
# Build the peer's question-answering pipeline from the store and the generator's folder; returns the
# function that answers one question and a description of the settings used (recorded in the JSON).
AnswerFn = Callable[[argparse.Namespace, "Phases"], tuple[Ask, dict[str, Any]]]

# ragkit's defaults (pipelines/default.yaml): passages given to the generator, and the reply's length.
ANSWER_K = 5
MAX_NEW_TOKENS = 256


def offline() -> None:
    """Nothing may reach the Hugging Face hub: every model is a local folder."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


class Phases:
    """Seconds per named phase, in the order they first ran."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def main(peer: str, ingest: IngestFn, retrieve: RetrieveFn, modes: tuple[str, ...], answer: AnswerFn | None = None) -> None:
    """The command line of one peer script; ``modes`` are the retrieval modes it offers, all run by default.

    With ``answer``, the script also has an ``answer`` command: every question through the peer's
    retrieval-augmented generation pipeline over the store, the reply and its sources recorded.
    """
    offline()
    parser = argparse.ArgumentParser(description=f"Ingest a folder or retrieve from it with {peer} (a ragkit peer benchmark).")
    commands = parser.add_subparsers(dest="command", required=True)
    ingest_parser = commands.add_parser("ingest", help="load, chunk, embed and store a folder")
    ingest_parser.add_argument("folder", type=Path)
    retrieve_parser = commands.add_parser("retrieve", help="top-k sources for every question of a JSONL file")
    retrieve_parser.add_argument("--questions", type=Path, required=True, help="JSONL with 'id' and 'question'")
    retrieve_parser.add_argument("--k", type=int, default=10)
    retrieve_parser.add_argument("--modes", default=",".join(modes), help=f"comma-separated, of: {', '.join(modes)}")
    subs = [ingest_parser, retrieve_parser]
    if answer is not None:
        answer_parser = commands.add_parser("answer", help="generate a reply for every question of a JSONL file")
        answer_parser.add_argument("--questions", type=Path, required=True, help="JSONL with 'id' and 'question'")
        answer_parser.add_argument("--generator", type=Path, required=True, help="the generator's local transformers folder")
        answer_parser.add_argument("--k", type=int, default=ANSWER_K, help="chunks given to the generator")
        answer_parser.add_argument("--max-new-tokens", type=int, default=MAX_NEW_TOKENS)
        answer_parser.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16",
                                   help="the generator's weights (ragkit's default resolves to bfloat16 on a CPU with bf16)")
        subs.append(answer_parser)
    for sub in subs:
        sub.add_argument("--store", type=Path, required=True, help="the persistent store's folder")
        sub.add_argument("--model", type=Path, required=True, help="the embedding model's local folder")
        sub.add_argument("--json", type=Path, default=None, help="also write the result here")
    args = parser.parse_args()

    if args.command == "ingest":
        result = _ingest(peer, args, ingest)
    elif args.command == "answer":
        assert answer is not None
        result = _answer(peer, args, answer)
    else:
        asked = [mode.strip() for mode in args.modes.split(",") if mode.strip()]
        unknown = sorted(set(asked) - set(modes))
        if unknown:
            parser.error(f"--modes: {peer} offers {', '.join(modes)}, not {', '.join(unknown)}")
        result = _retrieve(peer, args, retrieve, asked)
    answering = args.command == "answer"
    text = json.dumps(result, ensure_ascii=not answering, indent=1 if answering else 2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text, encoding="utf-8")
    print(json.dumps(_summary(result)))


def _ingest(peer: str, args: argparse.Namespace, ingest: IngestFn) -> dict[str, Any]:
    folder = args.folder.resolve()
    if not folder.is_dir():
        sys.exit(f"{peer}: {folder} is not a folder")
    args.folder = folder
    args.store.mkdir(parents=True, exist_ok=True)
    phases = Phases()
    result = ingest(args, phases)
    (args.store / STORE_NOTE).write_text(json.dumps({"peer": peer, "folder": str(folder), "model": str(args.model)}))
    return {
        "peer": peer,
        "folder": str(folder),
        "store": str(args.store),
        "model": str(args.model),
        "seconds": phases.total,
        "phases": phases.seconds,
        **result,
    }


def _store_root(peer: str, store: Path) -> str:
    """The folder the store was built from, as its ``ingest`` noted it; a store never ingested ends the run."""
    note_path = store / STORE_NOTE
    if not note_path.exists():
        sys.exit(f"{peer}: no {STORE_NOTE} in {store}; run `ingest FOLDER --store {store}` first")
    return json.loads(note_path.read_text())["folder"]


def _retrieve(peer: str, args: argparse.Namespace, retrieve: RetrieveFn, modes: list[str]) -> dict[str, Any]:
    root = _store_root(peer, args.store)
    questions = load_questions(args.questions)
    phases = Phases()
    searches = retrieve(args, modes, phases)
    results: dict[str, Any] = {}
    for mode in modes:
        results[mode] = run_questions(questions, lambda text: [relative(p, root) for p in searches[mode](text)], args.k)
    return {"peer": peer, "store": str(args.store), "k": args.k, "setup_phases": phases.seconds, "modes": results}


def _answer(peer: str, args: argparse.Namespace, answer: AnswerFn) -> dict[str, Any]:
    """Every question through the peer's RAG pipeline, one at a time, each timed from question to reply.

    The JSON is rewritten after every question, so a run cut short still holds what it answered.
    """
    root = _store_root(peer, args.store)
    questions = load_questions(args.questions)
    phases = Phases()
    ask, settings = answer(args, phases)
    result: dict[str, Any] = {
        "peer": peer,
        "store": str(args.store),
        "model": str(args.model),
        "generator": str(args.generator),
        "k": args.k,
        "max_new_tokens": args.max_new_tokens,
        "dtype": args.dtype,
        "setup_phases": phases.seconds,
        "settings": settings,
        "questions": [],
    }
    for item in questions:
        started = time.perf_counter()
        reply, sources = ask(item["question"])
        seconds = time.perf_counter() - started
        result["questions"].append(
            {"id": item["id"], "reply": reply, "sources": [relative(path, root) for path in sources[: args.k]], "seconds": seconds}
        )
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"{item['id']}: {seconds:.1f} s: {reply[:100]!r}", file=sys.stderr, flush=True)
    return result


def run_questions(questions: list[dict[str, Any]], search: Search, k: int) -> dict[str, Any]:
    """Every question through ``search``, one at a time as a user would ask them, timing each.

    The first question runs once untimed before, so that lazy loading is not counted as latency.
    """
    if questions:
        search(questions[0]["question"])
    per_question = []
    latencies = []
    for item in questions:
        started = time.perf_counter()
        sources = search(item["question"])[:k]
        latencies.append(time.perf_counter() - started)
        per_question.append({"id": item["id"], "sources": sources})
    return {"latency": latency_summary(latencies), "questions": per_question}


def latency_summary(latencies: list[float]) -> dict[str, float]:
    """Mean, median and 95th percentile of per-question seconds, in milliseconds."""
    ordered = sorted(latencies)
    return {
        "mean_ms": 1000 * statistics.fmean(ordered) if ordered else 0.0,
        "p50_ms": 1000 * statistics.median(ordered) if ordered else 0.0,
        "p95_ms": 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0,
    }


def load_questions(path: Path) -> list[dict[str, Any]]:
    """The JSONL question set: one object per line with at least ``id`` and ``question``."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            item = json.loads(line)
            if "question" not in item:
                sys.exit(f"{path}, line {number}: no 'question' key")
            item.setdefault("id", str(number))
            questions.append(item)
    return questions


def relative(path: str, root: str) -> str:
    """``path`` relative to the ingested folder when it lies inside it; otherwise as the peer stored it."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


def files_in(folder: Path) -> list[Path]:
    """The files a peer is asked to ingest: every non-hidden file below ``folder``, sorted."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """The result without per-question lists, for the one line printed on stdout."""
    if "questions" in result:
        seconds = [item["seconds"] for item in result["questions"]]
        return {key: value for key, value in result.items() if key != "questions"} | {
            "answered": len(seconds), "mean_seconds": statistics.fmean(seconds) if seconds else 0.0}
    if "modes" not in result:
        return result
    return {**result, "modes": {mode: data["latency"] for mode, data in result["modes"].items()}}


def chunk_stats(token_counts: list[int]) -> dict[str, float]:
    """Lengths of the texts embedded, in tokens of the embedder's tokenizer, to compare the splitters.

    ``over_256``: chunks longer than the model's 256-token window, which the embedder truncates.
    """
    ordered = sorted(token_counts)
    if not ordered:
        return {"total_tokens": 0, "mean_tokens": 0.0, "median_tokens": 0.0, "max_tokens": 0.0, "over_256": 0}
    return {
        "total_tokens": sum(ordered),
        "mean_tokens": statistics.fmean(ordered),
        "median_tokens": statistics.median(ordered),
        "max_tokens": ordered[-1],
        "over_256": sum(count > 256 for count in ordered),
    }
