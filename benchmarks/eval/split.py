"""Split an answer set once into dev and test halves, and check that a set still has the split the rule gives.

The rule: within each group (answerable questions, unanswerable ones), the ids
are sorted, shuffled by ``random.Random(SEED)``, and the first half (rounded
up) is ``dev``, the rest ``test``. The split is written into each line
(``"split": "dev"``) so it never moves. Every choice (prompt, model, k,
thresholds) is made on dev; test is run only to report::

    python benchmarks/eval/split.py benchmarks/eval/answers_en.jsonl            # write the split
    python benchmarks/eval/split.py --check benchmarks/eval/answers_*.jsonl     # exit 1 if any line differs
    python benchmarks/eval/split.py --write-halves DIR benchmarks/eval/answers_en.jsonl  # DIR/answers_en.dev.jsonl, .test.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

SEED = 2026


def assign(lines: list[dict]) -> dict[str, str]:
    """The split of each id, by the rule above."""
    splits: dict[str, str] = {}
    for unanswerable in (False, True):
        ids = sorted(line["id"] for line in lines if (line.get("answers") == []) == unanswerable)
        random.Random(SEED).shuffle(ids)
        half = (len(ids) + 1) // 2
        splits |= {item: "dev" if index < half else "test" for index, item in enumerate(ids)}
    return splits


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="check the stored split instead of writing it")
    parser.add_argument("--write-halves", type=Path, metavar="DIR", help="write each set's dev and test halves there")
    parser.add_argument("sets", nargs="+", type=Path)
    args = parser.parse_args()
    wrong = 0
    for path in args.sets:
        lines = read(path)
        splits = assign(lines)
        if args.check:
            bad = [line["id"] for line in lines if line.get("split") != splits[line["id"]]]
            wrong += len(bad)
            print(f"{path}: {len(lines)} lines, {len(bad)} off the rule" + (f": {bad[:5]}" if bad else ""))
        elif args.write_halves:
            args.write_halves.mkdir(parents=True, exist_ok=True)
            for half in ("dev", "test"):
                chosen = [line for line in lines if line.get("split") == half]
                out = args.write_halves / f"{path.stem}.{half}.jsonl"
                out.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in chosen), encoding="utf-8")
                print(f"{out}: {len(chosen)} lines")
        else:
            if any("split" in line and line["split"] != splits[line["id"]] for line in lines):
                print(f"{path}: a stored split differs from the rule; not rewriting it", file=sys.stderr)
                return 1
            text = "".join(json.dumps({**line, "split": splits[line["id"]]}, ensure_ascii=False) + "\n" for line in lines)
            path.write_text(text, encoding="utf-8")
            counts = {half: sum(value == half for value in splits.values()) for half in ("dev", "test")}
            print(f"{path}: {counts}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
