"""Answer accuracy on the real-document answer sets: one pipeline, one half (dev or test), one or more sets.

Build the corpora and ingest them first (once; the stores are reused)::

    bash ../shared/corpus/build.sh /tmp/corpus/full && bash ../shared/corpus/build_zh.sh /tmp/corpus_zh/full
    RAGKIT_STORE=/tmp/stores/en ragkit ingest /tmp/corpus/full
    RAGKIT_STORE=/tmp/stores/zh ragkit ingest /tmp/corpus_zh/full

then, for example::

    python benchmarks/answers.py --half dev --set en=/tmp/stores/en --label baseline
    python benchmarks/answers.py --half dev --set zh=/tmp/stores/zh -o augmenter.max_prompt_tokens=1024 --label short
    python benchmarks/answers.py --half test --set en=/tmp/stores/en --set zh=/tmp/stores/zh --label default

The grounding threshold is chosen from saved results, without generating again
(each result keeps the model's reply and its support)::

    python benchmarks/answers.py --sweep benchmarks/results/answers-dev-en-baseline.json

Each ``--set NAME=STORE`` answers ``benchmarks/eval/answers_NAME.jsonl``'s
half (``split.py`` wrote it) over that store. ``-o key.path=value`` overrides
the pipeline (the value read as YAML). The full report of each set goes to
``benchmarks/results/answers-HALF-NAME-LABEL.json``; a one-line summary per
set is printed. Choices are made on ``dev``; ``test`` is run only to report.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from ragkit import RAG
from ragkit.config import deep_merge
from ragkit.evaluation import contains_answers
from ragkit.grounding import is_refusal

HERE = Path(__file__).resolve().parent
SETS = HERE / "eval"
RESULTS = HERE / "results"


def override(text: str) -> dict[str, Any]:
    """``a.b=value`` as ``{"a": {"b": value}}``, the value parsed as YAML."""
    path, _, value = text.partition("=")
    result: dict[str, Any] = {}
    node = result
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = yaml.safe_load(value)
    return result


def half(name: str, which: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in (SETS / f"answers_{name}.jsonl").read_text("utf-8").splitlines() if line.strip()]
    return [line for line in lines if line.get("split") == which]


def summary(name: str, metrics: dict[str, Any], seconds: float) -> str:
    answers, grounding, citations = metrics["answers"], metrics["grounding"], metrics["citations"]
    return (
        f"{name}: accuracy {answers['accuracy'] or 0:.3f} of {answers['questions']}, "
        f"abstention {metrics['abstention']['accuracy'] or 0:.3f} of {metrics['abstention']['questions']}, "
        f"false abstentions {metrics['false_abstention']['rate'] or 0:.3f}, "
        f"grounded {grounding['grounded'] or 0:.3f}, degenerate {grounding['degenerate']}, "
        f"repaired {grounding['repaired']}, correct with verified citation "
        f"{citations['correct_with_verified_citation'] or 0:.3f}, hit@5 {metrics['retrieval'].get('hit@5') or 0:.3f}, "
        f"{seconds / max(metrics['questions'], 1):.1f} s/question"
    )


def sweep(paths: list[str]) -> None:
    """Accuracy, abstention and false abstentions of saved results at each ``answer.min_support``."""
    rows = [row for path in paths for row in json.loads(Path(path).read_text("utf-8"))["results"]]
    print(f"{len(rows)} questions from {len(paths)} result file(s)")
    print("min_support  accuracy  abstention  false abstentions")
    for threshold in [step / 20 for step in range(0, 20)]:
        correct, abstained_right, false_abstained = [], [], []
        for row in rows:
            reply = row["draft"] if row["abstained"] else row["answer"]
            abstains = not row["hits"] or is_refusal(reply) or row.get("support", 0.0) < threshold
            if row["answers"]:
                correct.append(not abstains and contains_answers(reply, row["answers"]))
            if row["answers"] == []:
                abstained_right.append(abstains)
            else:
                false_abstained.append(abstains)
        print(f"{threshold:11.2f}  {_mean(correct):8.3f}  {_mean(abstained_right):10.3f}  {_mean(false_abstained):17.3f}")


def _mean(values: list[bool]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> int:
    if sys.argv[1:2] == ["--sweep"]:
        sweep(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default=str(HERE.parent / "pipelines" / "default.yaml"))
    parser.add_argument("--half", choices=("dev", "test"), required=True)
    parser.add_argument("--set", action="append", required=True, metavar="NAME=STORE")
    parser.add_argument("-o", "--override", action="append", default=[], metavar="KEY.PATH=VALUE")
    parser.add_argument("--label", required=True)
    parser.add_argument("--limit", type=int, help="only the first N questions of each half (a quick look)")
    parser.add_argument("--sample", type=int, metavar="N", help="N questions of each half, evenly spaced (answerable and unanswerable in their proportion): for slow variants")
    parser.add_argument("--formats", help="only answerable questions over these formats (pdf,html,md,txt), and the unanswerable ones")
    args = parser.parse_args()
    extra: dict[str, Any] = {}
    for text in args.override:
        extra = deep_merge(extra, override(text))
    RESULTS.mkdir(exist_ok=True)
    for spec in args.set:
        name, _, store = spec.partition("=")
        questions = half(name, args.half)[: args.limit]
        if args.sample and args.sample < len(questions):
            questions = [questions[index * len(questions) // args.sample] for index in range(args.sample)]
        if args.formats:
            questions = [q for q in questions if q["answers"] == [] or q.get("format") in args.formats.split(",")]
        rag = RAG.from_yaml(args.pipeline, deep_merge({"store": {"path": store}}, extra))
        started = time.perf_counter()
        report = rag.evaluate([{k: v for k, v in q.items() if k in ("id", "question", "answers", "file", "page")} for q in questions], k=10, progress=True)
        seconds = time.perf_counter() - started
        data = {"label": args.label, "half": args.half, "set": name, "pipeline": args.pipeline,
                "overrides": args.override, "seconds": round(seconds, 1), **report.to_dict()}
        out = RESULTS / f"answers-{args.half}-{name}-{args.label}.json"
        out.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        print(summary(f"{args.label} {args.half} {name}", report.metrics(), seconds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
