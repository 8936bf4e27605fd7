"""How close the CPU generator runs to what this machine allows: each measured figure beside its floor.

Two floors bound a causal LM on a CPU, both measured here in the same run:

- **decode**: at batch 1 each new token reads every weight once, so a token takes at least
  *weight bytes / memory bandwidth*; the bandwidth is that of a plain copy of ``--copy-gib`` GiB
  (bytes read plus bytes written, per second; best of five).
- **prefill**: the prompt's matmuls, about *2 x non-embedding parameters x prompt tokens* FLOPs,
  at the bfloat16 GEMM throughput of a square matmul (best of five).

Each generator configuration (``--engines`` x ``--models``; the transformers engine in each of
``--dtypes``, llama.cpp on the shipped 4-bit GGUF, whose bytes are its weight bytes) then prefills
prompts of real text (``sample_docs/`` in order; ``--prompts`` tokens) and decodes ``--new`` tokens
greedily with no stop, and the table shows time to first token, decode per token and the whole
answer, each with its floor and the ratio measured / floor. Both engines run on the same cores in
the same run, so their ratio to each other holds under noise. Load the machine as little as
possible while it runs, and say what else was running::

    python benchmarks/cpu.py                                  # both engines, 0.5B, 500/1000/2000 tokens, 32/128 new
    python benchmarks/cpu.py --models qwen2.5-coder-0.5b-instruct qwen2.5-coder-1.5b-instruct --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from ragkit.generators.huggingface import TransformersGenerator
from ragkit.generators.llamacpp import LlamaCppGenerator, gguf_path

SAMPLE_DOCS = Path(__file__).resolve().parent.parent / "sample_docs"


def best_seconds(run: Any, repeat: int = 5) -> float:
    """The fastest of ``repeat`` runs: the floor is what the machine can do, not what it did under noise."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def copy_bandwidth(gib: float) -> float:
    """Bytes read plus written per second by a copy of ``gib`` GiB."""
    size = int(gib * 2**30)
    source, target = torch.ones(size, dtype=torch.uint8), torch.empty(size, dtype=torch.uint8)
    target.copy_(source)  # touch every page first
    return 2 * size / best_seconds(lambda: target.copy_(source))


def gemm_flops(size: int, dtype: torch.dtype) -> float:
    """FLOP/s of a ``size`` x ``size`` matmul in ``dtype``."""
    left, right = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    left @ right
    return 2 * size**3 / best_seconds(lambda: left @ right)


def real_text() -> str:
    return "\n\n".join(path.read_text("utf-8", errors="replace") for path in sorted(SAMPLE_DOCS.rglob("*.md")))


def first_tokens(ids: list[int], tokens: int) -> list[int]:
    """The first ``tokens`` of ``ids``, repeated as often as needed."""
    while len(ids) < tokens:
        ids = ids + ids
    return ids[:tokens]


def prompt_ids(tokenizer: Any, tokens: int) -> torch.Tensor:
    """``tokens`` tokens of real prose and markup from ``sample_docs/``, as one batch row."""
    return torch.tensor([first_tokens(tokenizer(real_text(), add_special_tokens=False)["input_ids"], tokens)])


def parameters(model: Any) -> tuple[int, int]:
    """(weight bytes, non-embedding parameters); tied embeddings are counted once."""
    unique = {id(p): p for p in model.parameters()}.values()
    weight_bytes = sum(p.numel() * p.element_size() for p in unique)
    return weight_bytes, sum(p.numel() for p in unique) - model.get_input_embeddings().weight.numel()


def measure(model: Any, ids: torch.Tensor, new: int) -> tuple[float, float]:
    """(seconds to the first token, seconds per further token) of a greedy run of ``new`` tokens with no stop."""
    with torch.inference_mode():
        started = time.perf_counter()
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=1, min_new_tokens=1, do_sample=False)
        first = time.perf_counter() - started
        started = time.perf_counter()
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new, min_new_tokens=new, do_sample=False)
        whole = time.perf_counter() - started
    return first, (whole - first) / max(new - 1, 1)


def measure_llamacpp(llama: Any, ids: list[int], new: int) -> tuple[float, float]:
    """The same two figures through llama.cpp, from an empty KV cache (no reused prefix); its raw
    token loop has no stop, so every run decodes ``new`` tokens."""
    llama.reset()
    started = time.perf_counter()
    tokens = llama.generate(ids, temp=0.0, top_k=1, min_p=0.0, repeat_penalty=1.0, reset=True)
    next(tokens)
    first = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(new - 1):
        next(tokens)
    tokens.close()
    return first, (time.perf_counter() - started) / max(new - 1, 1)


def transformers_runs(name: str, dtype: str) -> tuple[int, int, Any]:
    """(weight bytes, non-embedding parameters, run(prompt tokens, new tokens)) of the transformers engine."""
    generator = TransformersGenerator(TransformersGenerator.Config(model=name, device="cpu", dtype=dtype))
    model, tokenizer = generator.model, generator.tokenizer
    weight_bytes, non_embedding = parameters(model)
    measure(model, prompt_ids(tokenizer, 16), 2)  # warm-up
    return weight_bytes, non_embedding, lambda tokens, new: measure(model, prompt_ids(tokenizer, tokens), new)


def llamacpp_runs(name: str) -> tuple[int, int, Any]:
    """The same for llama.cpp over the shipped GGUF: its file bytes are what each decoded token reads."""
    generator = LlamaCppGenerator(LlamaCppGenerator.Config(model=name, context=4096))
    llama = generator.llama
    ids = list(llama.tokenize(real_text().encode("utf-8"), add_bos=False, special=False))
    non_embedding = llama._model.n_params() - llama.n_vocab() * llama.n_embd()
    measure_llamacpp(llama, ids[:16], 2)  # warm-up
    return os.path.getsize(gguf_path(name)[1]), non_embedding, lambda tokens, new: measure_llamacpp(llama, first_tokens(ids, tokens), new)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=["transformers", "llamacpp"], choices=["transformers", "llamacpp"])
    parser.add_argument("--models", nargs="+", default=["qwen2.5-coder-0.5b-instruct"])
    parser.add_argument("--dtypes", nargs="+", default=["bfloat16"], choices=["bfloat16", "float32"])
    parser.add_argument("--prompts", nargs="+", type=int, default=[500, 1000, 2000])
    parser.add_argument("--new", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--copy-gib", type=float, default=1.0)
    parser.add_argument("--gemm", type=int, default=2048, help="matrix side of the GEMM throughput test")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()

    bandwidth = copy_bandwidth(args.copy_gib)
    flops = {name: gemm_flops(args.gemm, getattr(torch, name)) for name in args.dtypes}
    print(f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}")
    print(f"copy bandwidth {bandwidth / 1e9:.1f} GB/s; GEMM " + ", ".join(f"{n} {f / 1e9:.0f} GFLOP/s" for n, f in flops.items()))
    rows: list[dict[str, Any]] = []
    header = f"{'engine':12} {'model':28} {'dtype':8} {'prompt':>6} {'new':>4} | {'TTFT s':>7} {'floor':>6} {'x':>5} | {'ms/tok':>7} {'floor':>6} {'x':>5} | {'answer s':>8} {'floor':>6} {'x':>5}"
    print(header)
    configurations = [
        (engine, name, dtype)
        for engine in args.engines
        for name in args.models
        for dtype in (args.dtypes if engine == "transformers" else ["q4_k_m"])
    ]
    for engine, name, dtype in configurations:
        weight_bytes, non_embedding, run = transformers_runs(name, dtype) if engine == "transformers" else llamacpp_runs(name)
        decode_floor = weight_bytes / bandwidth
        for tokens in args.prompts:
            prefill_floor = 2 * non_embedding * tokens / max(flops.values())
            for new in args.new:
                first, per_token = run(tokens, new)
                answer, answer_floor = first + per_token * (new - 1), prefill_floor + decode_floor * (new - 1)
                rows.append({
                    "engine": engine, "model": name, "dtype": dtype, "prompt_tokens": tokens, "new_tokens": new,
                    "ttft_s": first, "prefill_floor_s": prefill_floor, "decode_s_per_token": per_token,
                    "decode_floor_s_per_token": decode_floor, "answer_s": answer, "answer_floor_s": answer_floor,
                    "weight_bytes": weight_bytes,
                })
                print(
                    f"{engine:12} {name:28} {dtype:8} {tokens:6} {new:4} | {first:7.2f} {prefill_floor:6.2f} {first / prefill_floor:5.1f} | "
                    f"{per_token * 1e3:7.1f} {decode_floor * 1e3:6.1f} {per_token / decode_floor:5.1f} | "
                    f"{answer:8.2f} {answer_floor:6.2f} {answer / answer_floor:5.1f}",
                    flush=True,
                )
    print_speedups(rows)
    if args.json:
        machine = {"copy_bytes_per_s": bandwidth, "gemm_flops": flops, "threads": torch.get_num_threads(), "load_average": os.getloadavg()}
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=1), encoding="utf-8")
    return 0


def print_speedups(rows: list[dict[str, Any]]) -> None:
    """Each llama.cpp answer time against the transformers one of the same model, prompt and length."""
    baseline = {(r["model"], r["prompt_tokens"], r["new_tokens"]): r["answer_s"] for r in rows if r["engine"] == "transformers"}
    for row in rows:
        key = (row["model"], row["prompt_tokens"], row["new_tokens"])
        if row["engine"] == "llamacpp" and key in baseline:
            print(f"llama.cpp against transformers, {key[0]}, {key[1]} + {key[2]} tokens: {baseline[key] / row['answer_s']:.2f}x faster")


if __name__ == "__main__":
    sys.exit(main())
