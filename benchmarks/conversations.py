"""Follow-up questions: each way of making them standalone against the standalone forms, in one run.

Over the prebuilt default-pipeline stores (read only)::

    python benchmarks/conversations.py --set en=/tmp/stores/en --set zh=/tmp/stores/zh
    python benchmarks/conversations.py --set en=/tmp/stores/en --set zh=/tmp/stores/zh \\
        --answer today,standalone,fused --answer-split test

For every follow-up of ``benchmarks/eval/conversations.jsonl`` (every turn but the first) and every
strategy of ``conversation.rewrite`` (``none`` is today's baseline: the follow-up retrieved as asked),
it measures retrieval hit@5 (the gold file, and page for a PDF, among the 5 passages) and the seconds
per turn, against the same for the follow-up's standalone form asked alone. The earlier turns are the
conversation's own questions; for retrieval their answers are left empty (no generation), so the
generator's rewrite sees the questions only. ``--answer`` then answers the conversations of
``--answer-split`` for real, turn by turn (each answer enters the history), with each named strategy;
``today`` asks each follow-up alone as written (``rag.ask``, the baseline: no history anywhere) and
``standalone`` its standalone form alone. Accuracy is the share of follow-ups whose answer
holds every gold string and is not an abstention, the rule of ``benchmarks/answers.py``.
``stands_alone`` is scored too: how many follow-ups it sends to the rewrite, and how many of the
single-question sets' questions (which all stand alone) it lets through untouched.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ragkit import RAG
from ragkit.conversation import Turn
from ragkit.evaluation import contains_answers, gold_rank
from ragkit.followups import stands_alone
from ragkit.settings import ConversationConfig

HERE = Path(__file__).resolve().parent
SETS = HERE / "eval"
RESULTS = HERE / "results"
STRATEGIES = ("none", "concat", "blend", "generator", "fused")


def conversations(corpus: str, split: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (SETS / "conversations.jsonl").read_text("utf-8").splitlines() if line.strip()]
    return [c for c in lines if c["corpus"] == corpus and split in ("all", c["split"])]


def hit(hits: list, turn: dict[str, Any]) -> bool:
    return gold_rank(hits[:5], turn["file"], turn.get("page")) is not None


def retrieval(rag: RAG, convs: list[dict[str, Any]], strategies: list[str]) -> dict[str, Any]:
    """hit@5 and seconds per follow-up for each strategy and for the standalone forms; the queries used."""
    rows: list[dict[str, Any]] = []
    for conv in convs:
        for position in range(1, len(conv["turns"])):
            turn = conv["turns"][position]
            row: dict[str, Any] = {"id": conv["id"], "split": conv["split"], "turn": position + 1, "question": turn["question"]}
            started = time.perf_counter()
            row["standalone"] = {"hit": hit(rag.retrieve(turn["standalone"], k=5), turn), "seconds": time.perf_counter() - started}
            for strategy in strategies:
                chat = rag.chat()
                chat.settings = ConversationConfig(rewrite=strategy)  # type: ignore[arg-type]
                chat.history = [Turn(earlier["question"], "") for earlier in conv["turns"][:position]]
                started = time.perf_counter()
                query, hits = chat.standalone(turn["question"], k=5)
                row[strategy] = {"hit": hit(hits, turn), "seconds": time.perf_counter() - started, "query": query}
            rows.append(row)
    return {"rows": rows}


def answers(rag: RAG, convs: list[dict[str, Any]], strategy: str) -> list[dict[str, Any]]:
    """Each conversation answered turn by turn with ``strategy``, or each follow-up asked alone with ``rag.ask``:
    as written (``today``, the baseline) or in its standalone form (``standalone``); one row per follow-up."""
    rows = []
    alone = {"today": "question", "standalone": "standalone"}.get(strategy)
    for conv in convs:
        chat = rag.chat()
        if alone is None:
            chat.settings = ConversationConfig(rewrite=strategy)  # type: ignore[arg-type]
        for position, turn in enumerate(conv["turns"]):
            if alone is not None and position == 0:
                continue
            started = time.perf_counter()
            answer = rag.ask(turn[alone]) if alone is not None else chat.ask(turn["question"])
            seconds = time.perf_counter() - started
            if position == 0:
                continue
            correct = not answer.abstained and contains_answers(answer.text, turn["answers"])
            rows.append({"id": conv["id"], "turn": position + 1, "correct": correct, "abstained": answer.abstained,
                         "seconds": seconds, "query": answer.query, "answer": answer.text})
    return rows


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def print_retrieval(name: str, rows: list[dict[str, Any]], strategies: list[str]) -> None:
    for split in ("dev", "test", "all"):
        chosen = [row for row in rows if split in ("all", row["split"])]
        if not chosen:
            continue
        base = mean([row["standalone"]["hit"] for row in chosen])
        cells = [f"standalone {base:.3f}"] + [
            f"{s} {mean([row[s]['hit'] for row in chosen]):.3f} ({mean([row[s]['seconds'] for row in chosen]):.2f} s)" for s in strategies
        ]
        print(f"{name} {split} hit@5 of {len(chosen)} follow-ups: " + ", ".join(cells), flush=True)


def check_stands_alone(convs: list[dict[str, Any]], corpus: str) -> str:
    follow_ups = [turn["question"] for conv in convs for turn in conv["turns"][1:]]
    singles = [json.loads(line)["question"] for line in (SETS / f"answers_{corpus}.jsonl").read_text("utf-8").splitlines() if line.strip()]
    flagged = sum(not stands_alone(question) for question in follow_ups)
    passed = sum(stands_alone(question) for question in singles)
    return f"stands_alone: {flagged} of {len(follow_ups)} follow-ups sent to the rewrite; {passed} of {len(singles)} single questions retrieved as asked"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default=str(HERE.parent / "pipelines" / "default.yaml"))
    parser.add_argument("--set", action="append", required=True, metavar="NAME=STORE")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--answer", default="", help="comma-separated: strategies to answer conversations with, 'today', 'standalone'")
    parser.add_argument("--answer-split", default="test", choices=("dev", "test", "all"))
    parser.add_argument("--label", default="run")
    args = parser.parse_args()
    strategies = args.strategies.split(",")
    RESULTS.mkdir(exist_ok=True)
    for spec in args.set:
        name, _, store = spec.partition("=")
        rag = RAG.from_yaml(args.pipeline, {"store": {"path": store}})
        rag.warm_up()
        convs = conversations(name, "all")
        print(check_stands_alone(convs, name), flush=True)
        result = retrieval(rag, convs, strategies)
        print_retrieval(name, result["rows"], strategies)
        answer_convs = conversations(name, args.answer_split)
        for strategy in [s for s in args.answer.split(",") if s]:
            started = time.perf_counter()
            rows = answers(rag, answer_convs, strategy)
            result[f"answers-{strategy}"] = rows
            print(f"{name} {args.answer_split} answers {strategy}: accuracy {mean([r['correct'] for r in rows]):.3f} of {len(rows)} "
                  f"follow-ups, abstained {sum(r['abstained'] for r in rows)}, {mean([r['seconds'] for r in rows]):.1f} s per follow-up "
                  f"({time.perf_counter() - started:.0f} s in all)", flush=True)
        out = RESULTS / f"conversations-{name}-{args.label}.json"
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
