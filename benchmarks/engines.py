"""Do two generator configurations state the same facts? Greedy answers to ``tests/e2e_questions.json``.

``sample_docs/`` is ingested once with the default pipeline; each configuration (``--generator``,
a JSON object of generator settings merged over the pipeline's) then answers every question in
the file, and the table shows, per question, whether each answer states its gold fact (the rule
of ``tests/test_e2e.py``: the fact as a whole number or name, case folded) and the seconds each
configuration took for all of them. The questions that differ are listed with both answers::

    python benchmarks/engines.py   # transformers 0.5B (the former CPU default) against generator type auto
    python benchmarks/engines.py --generator '{"type": "transformers", "model": "qwen2.5-coder-0.5b-instruct"}' \\
        --generator '{"type": "llamacpp", "model": "qwen2.5-coder-0.5b-instruct"}'
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

from ragkit.pipeline import RAG

REPO = Path(__file__).resolve().parent.parent
DEFAULTS = ['{"type": "transformers", "model": "qwen2.5-coder-0.5b-instruct"}', '{"type": "auto"}']


def states(text: str, fact: str) -> bool:
    """The fact as a whole number or name ("20" is not stated by "200"), case folded."""
    return re.search(rf"(?<![0-9]){re.escape(fact.casefold())}(?![0-9])", text.casefold()) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", action="append", help="generator settings as JSON (twice or more)")
    parser.add_argument("--pipeline", default=str(REPO / "pipelines" / "default.yaml"))
    args = parser.parse_args()
    generators = [json.loads(text) for text in (args.generator or DEFAULTS)]
    questions = json.loads((REPO / "tests" / "e2e_questions.json").read_text("utf-8"))
    store = tempfile.mkdtemp(prefix="ragkit-engines-")
    texts, seconds = [], []
    for settings in generators:
        pipeline = yaml.safe_load(Path(args.pipeline).read_text("utf-8"))
        rag = RAG.from_dict({**pipeline, "generator": settings}, {"store": {"path": store}})  # the section replaced, not merged
        if not texts:
            rag.ingest(REPO / "sample_docs", progress=False)
        rag.ask("warm up: what is this?")  # loads the models outside the timed part
        started = time.perf_counter()
        answers = rag.ask_many([item["question"] for item in questions])
        seconds.append(time.perf_counter() - started)
        texts.append([answer.text for answer in answers])
        print(f"{json.dumps(settings)} ({type(rag.generator).__name__}): {seconds[-1]:.1f} s for {len(questions)} questions", flush=True)
        del rag  # one pipeline at a time on the store
    stated = [[states(text, item["answer"]) for text, item in zip(column, questions)] for column in texts]
    for index, settings in enumerate(generators):
        print(f"config {index}: {sum(stated[index])} of {len(questions)} state the fact, {seconds[index] / len(questions):.1f} s/question")
    differing = [row for row in range(len(questions)) if len({column[row] for column in stated}) > 1]
    print(f"{len(differing)} question(s) where the configurations differ on the fact:")
    for row in differing:
        print(f"- {questions[row]['question']} (fact: {questions[row]['answer']})")
        for index in range(len(generators)):
            print(f"    {index} {'states' if stated[index][row] else 'misses'}: {texts[index][row][:160]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
