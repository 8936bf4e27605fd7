"""Embedding and generation speed, each against its naive baseline measured in the same run.

    python benchmarks/gpu.py                      # real packaged models, on whatever device there is
    python benchmarks/gpu.py --random-weights     # same architectures from benchmarks/configs/, random weights

Figures (the targets are those of the GPU issue; on a CPU the sizes shrink and the targets are only shown):
  embedding      ragkit's embedder vs SentenceTransformer.encode at its defaults and at its best batch size in half precision
  ask_many       answers/s of ragkit's batched generation vs a plain loop of model.generate, same prompts, same output lengths
  latency        one question: embed, search, prompt, time to first token, per-token decode; eager and compiled
  floor          weight bytes / measured memory bandwidth + kernels per decode step x measured per-kernel launch cost
  load           generator load time (cold: GGUF dequantised and converted; warm: the converted cache)
Correctness: greedy answers of the batched path equal the one-at-a-time path for the same prompts.

``--random-weights`` needs only tokenizer files (``--assets``): the weights need not travel to a GPU machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

from ragkit import models  # noqa: E402
from ragkit.augmenters.template import TemplateAugmenter  # noqa: E402
from ragkit.embedders.sentence_transformers import SentenceTransformerEmbedder  # noqa: E402
from ragkit.generators.huggingface import TransformersGenerator  # noqa: E402
from ragkit.types import Hit  # noqa: E402

CONFIGS = REPO / "benchmarks" / "configs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random-weights", action="store_true", help="build the models from benchmarks/configs/")
    parser.add_argument("--assets", type=Path, default=REPO / ".gpuassets", help="tokenizer folders for --random-weights")
    parser.add_argument("--generator", default="qwen2.5-coder-0.5b-instruct")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, default=None, help="write all figures here")
    parser.add_argument("--cold-load", action="store_true", help="also time a cold GGUF load (real models only)")
    parser.add_argument("--texts", type=int, default=None, help="texts to embed (default: 10000 on a GPU, 400 on a CPU)")
    args = parser.parse_args()

    from ragkit.devices import resolve_device

    device = resolve_device(args.device)
    gpu = device.startswith("cuda")
    sizes = {"texts": 10000, "questions": 128, "baseline_questions": 8, "new_tokens": 64} if gpu else {
        "texts": 400, "questions": 8, "baseline_questions": 4, "new_tokens": 16}
    if args.texts:
        sizes["texts"] = args.texts
    workdir = Path(tempfile.mkdtemp(prefix="ragkit-bench-"))
    _progress(f"device {device}; preparing models")
    embedder_model, generator_model = (
        _random_models(args.assets, args.generator, workdir) if args.random_weights else ("all-MiniLM-L6-v2", args.generator)
    )
    results: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if gpu else platform.processor() or "cpu",
        "torch": torch.__version__,
        "command": " ".join(["python", *sys.argv]),
        "sizes": sizes,
        "random_weights": args.random_weights,
    }
    if gpu:
        _progress("measuring bandwidth and launch cost")
        results["ceilings"] = _ceilings()
    texts = _chunk_texts(sizes["texts"])
    _progress(f"embedding {len(texts)} texts")
    results["embedding"] = _bench_embedding(embedder_model, device, texts, gpu)
    _progress(json.dumps(results["embedding"]))
    if args.cold_load and not args.random_weights:
        results["load_cold_s"] = _cold_load(generator_model, device)
    results.update(_bench_generation(generator_model, embedder_model, device, texts, sizes, gpu, results.get("ceilings")))
    _print_table(results, gpu)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)


def _progress(message: str) -> None:
    """Progress to stderr at once: a run cut short by a time limit still shows how far it got."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- models -------------------------------------------------------------------


def _random_models(assets: Path, generator: str, workdir: Path) -> tuple[str, str]:
    """Save the default architectures with random weights, plus their real tokenizers, as local model folders."""
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    torch.manual_seed(0)
    embedder_dir = workdir / "all-MiniLM-L6-v2"
    shutil.copytree(CONFIGS / "all-MiniLM-L6-v2", embedder_dir)
    AutoModel.from_config(AutoConfig.from_pretrained(embedder_dir)).save_pretrained(embedder_dir)
    _copy_files(assets / "minilm-tokenizer", embedder_dir)
    generator_dir = workdir / generator
    generator_dir.mkdir()
    config = AutoConfig.from_pretrained(CONFIGS / generator)
    AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16).save_pretrained(generator_dir)
    _copy_files(assets / "qwen-tokenizer", generator_dir, skip={"config.json"})
    return str(embedder_dir), str(generator_dir)


def _copy_files(source: Path, target: Path, skip: set[str] = frozenset()) -> None:
    for path in source.iterdir():
        if path.is_file() and path.name not in skip:
            shutil.copy(path, target / path.name)


def _cold_load(generator_model: str, device: str) -> float:
    """Load from the GGUF parts into an empty cache: assemble, dequantise, convert."""
    saved = os.environ.get("RAGKIT_CACHE")
    os.environ["RAGKIT_CACHE"] = tempfile.mkdtemp(prefix="ragkit-cold-")
    try:
        started = time.perf_counter()
        TransformersGenerator(TransformersGenerator.Config(model=generator_model, device=device)).model
        return time.perf_counter() - started
    finally:
        shutil.rmtree(os.environ["RAGKIT_CACHE"], ignore_errors=True)
        if saved is None:
            del os.environ["RAGKIT_CACHE"]
        else:
            os.environ["RAGKIT_CACHE"] = saved


# --- inputs ---------------------------------------------------------------------


def _chunk_texts(count: int) -> list[str]:
    """A realistic mix of chunk lengths: most near a full 200-token chunk, a tail of short last chunks."""
    words = " ".join(
        p.read_text(encoding="utf-8", errors="ignore") for p in sorted((REPO / "sample_docs").rglob("*.md"))
    ).split()
    rng = random.Random(0)
    texts = []
    for _ in range(count):
        length = rng.randint(120, 190) if rng.random() < 0.7 else rng.randint(5, 120)
        start = rng.randrange(0, len(words) - length)
        texts.append(" ".join(words[start : start + length]))
    return texts


def _questions(texts: list[str], count: int) -> list[tuple[str, list[Hit]]]:
    rng = random.Random(1)
    return [
        (
            f"Question {n}: what does the passage say about {rng.choice(texts).split()[3]}?",
            [Hit(f"h{n}-{i}", text, 0.5, {"source": f"doc{i}.md"}) for i, text in enumerate(rng.sample(texts, 5))],
        )
        for n in range(count)
    ]


# --- measurements ---------------------------------------------------------------


def _timed(run: Callable[[], Any], repeats: int, gpu: bool) -> float:
    """Median seconds of ``repeats`` runs after one warm-up run."""
    run()
    times = []
    for _ in range(repeats):
        if gpu:
            torch.cuda.synchronize()
        started = time.perf_counter()
        run()
        if gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _once(run: Callable[[], Any], gpu: bool) -> tuple[float, Any]:
    """Seconds and result of one run (callers warm up on a small input first)."""
    if gpu:
        torch.cuda.synchronize()
    started = time.perf_counter()
    result = run()
    if gpu:
        torch.cuda.synchronize()
    return time.perf_counter() - started, result


def _ceilings() -> dict[str, float]:
    """Device memory bandwidth (a large copy, bytes read + written) and the per-kernel cost inside a CUDA graph."""
    source = torch.empty(1 << 30, dtype=torch.uint8, device="cuda").random_()
    target = torch.empty_like(source)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(3):
        target.copy_(source)
    start.record()
    for _ in range(20):
        target.copy_(source)
    end.record()
    torch.cuda.synchronize()
    bandwidth = 2 * source.numel() * 20 / (start.elapsed_time(end) / 1e3)
    del source, target
    tiny = torch.zeros(1, device="cuda")
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            tiny.add_(1)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    kernels = 1000
    with torch.cuda.graph(graph):
        for _ in range(kernels):
            tiny.add_(1)
    graph.replay()
    torch.cuda.synchronize()
    start.record()
    for _ in range(10):
        graph.replay()
    end.record()
    torch.cuda.synchronize()
    per_kernel = start.elapsed_time(end) / 1e3 / (10 * kernels)
    return {"bandwidth_bytes_per_s": bandwidth, "graph_kernel_launch_s": per_kernel}


def _bench_embedding(model: str, device: str, texts: list[str], gpu: bool) -> dict[str, Any]:
    from sentence_transformers import SentenceTransformer

    location = models.resolve(model).location
    repeats = 2
    default = SentenceTransformer(location, device=device)
    default_s = _timed(lambda: default.encode(texts, normalize_embeddings=True), repeats, gpu)
    _progress(f"default encode {len(texts) / default_s:.0f} texts/s")
    del default
    half = SentenceTransformer(location, device=device, model_kwargs={"dtype": torch.float16 if gpu else torch.float32})
    best: dict[str, float] = {}
    for batch in ([64, 256, 1024] if gpu else [16, 32, 64, 128]):
        best[str(batch)] = _timed(
            lambda: half.encode(texts, batch_size=batch, normalize_embeddings=True), repeats, gpu
        )
        _progress(f"half-precision encode, batch {batch}: {len(texts) / best[str(batch)]:.0f} texts/s")
    del half
    embedder = SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(model=model, device=device, show_progress=False))
    ragkit_s = _timed(lambda: embedder.embed_documents(texts), repeats, gpu)
    best_batch = min(best, key=best.__getitem__)
    return {
        "texts": len(texts),
        "ragkit_texts_per_s": len(texts) / ragkit_s,
        "default_encode_texts_per_s": len(texts) / default_s,
        "best_encode_texts_per_s": len(texts) / best[best_batch],
        "best_encode_batch_size": int(best_batch),
        "encode_seconds_by_batch_size": best,
        "vs_best": best[best_batch] / ragkit_s,
        "vs_default": default_s / ragkit_s,
    }


def _bench_generation(
    generator_model: str, embedder_model: str, device: str, texts: list[str], sizes: dict[str, int], gpu: bool,
    ceilings: dict[str, float] | None,
) -> dict[str, Any]:
    new_tokens = sizes["new_tokens"]
    started = time.perf_counter()
    generator = TransformersGenerator(
        TransformersGenerator.Config(model=generator_model, device=device, max_new_tokens=new_tokens, compile="off")
    )
    model, tokenizer = generator.model, generator.tokenizer
    load_s = time.perf_counter() - started
    # Fixed output lengths: no answer may stop early at an end-of-sequence token.
    model.generation_config.eos_token_id = None
    augmenter = TemplateAugmenter(TemplateAugmenter.Config(), counter=generator)
    questions = _questions(texts, sizes["questions"])
    prompts = [augmenter.build(question, hits).messages for question, hits in questions]
    prompt_tokens = [generator.count_prompt_tokens(messages) for messages in prompts]

    def plain_loop(subset: list[Any]) -> list[str]:
        outputs = []
        for messages in subset:
            ids = tokenizer(generator.render(messages), return_tensors="pt", add_special_tokens=False).to(model.device)
            with torch.inference_mode():
                out = model.generate(**ids, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id)
            outputs.append(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip())
        return outputs

    baseline = prompts[: sizes["baseline_questions"]]
    _progress(f"plain generate loop over {len(baseline)} prompts")
    plain_loop(baseline[:1])  # warm-up
    plain_s, plain_outputs = _once(lambda: plain_loop(baseline), gpu)
    _progress(f"batched generation of {len(prompts)} prompts")
    generator.generate_batch(prompts[:2])  # warm-up
    batched_s, batched_outputs = _once(lambda: generator.generate_batch(prompts), gpu)
    same = sum(a == b for a, b in zip(plain_outputs, batched_outputs))
    result: dict[str, Any] = {
        "load_warm_s": load_s,
        "ask_many": {
            "questions": len(prompts),
            "mean_prompt_tokens": statistics.mean(prompt_tokens),
            "new_tokens": new_tokens,
            "batch_size": generator._batch_size,
            "ragkit_answers_per_s": len(prompts) / batched_s,
            "plain_loop_answers_per_s": len(baseline) / plain_s,
            "speedup": (len(prompts) / batched_s) / (len(baseline) / plain_s),
            "batched_equals_single": f"{same}/{len(baseline)}",
        },
    }
    _progress(json.dumps(result["ask_many"]))
    if gpu:
        result["ask_many"].update(_float32_agreement(generator_model, device, baseline, new_tokens))
        _progress(f"float32 agreement: {result['ask_many']}")
    result["latency"] = _bench_latency(generator, augmenter, embedder_model, device, questions[0], new_tokens, gpu)
    if gpu and ceilings:
        result["floor"] = _decode_floor(model, ceilings)
    return result


def _float32_agreement(generator_model: str, device: str, prompts: list[Any], new_tokens: int) -> dict[str, str]:
    """Greedy answers in float32, where rounding cannot flip a near tie as in bf16: batched vs one at a
    time (eager), and the compiled single-question loop vs eager ``generate``."""
    generator = TransformersGenerator(
        TransformersGenerator.Config(model=generator_model, device=device, dtype="float32", max_new_tokens=new_tokens, compile="off")
    )
    generator.model.generation_config.eos_token_id = None
    batched = generator.generate_batch(prompts)
    single = [generator.generate(messages) for messages in prompts]
    generator.config.compile = "on"
    compiled = [generator.generate(messages) for messages in prompts]
    del generator
    torch.cuda.empty_cache()
    return {
        "batched_equals_single_float32": f"{sum(a == b for a, b in zip(batched, single))}/{len(prompts)}",
        "compiled_equals_eager_float32": f"{sum(a == b for a, b in zip(compiled, single))}/{len(prompts)}",
    }


def _bench_latency(
    generator: TransformersGenerator, augmenter: TemplateAugmenter, embedder_model: str, device: str,
    question: tuple[str, list[Hit]], new_tokens: int, gpu: bool,
) -> dict[str, Any]:
    """One question, stage by stage; decoding timed as the difference between 1 and ``new_tokens`` new tokens."""
    embedder = SentenceTransformerEmbedder(SentenceTransformerEmbedder.Config(model=embedder_model, device=device, show_progress=False))
    text, hits = question
    figures: dict[str, Any] = {"embed_query_s": _timed(lambda: embedder.embed_queries([text]), 5, gpu)}
    figures["search_s"] = _search_time(embedder, [hit.text for hit in hits] * 400, text, gpu)
    figures["prompt_s"] = _timed(lambda: generator.render(augmenter.build(text, hits).messages), 5, gpu)
    messages = augmenter.build(text, hits).messages

    def answer(tokens: int) -> str:
        generator.config.max_new_tokens = tokens
        return generator.generate(messages)

    answers = {}
    for mode in (["off", "on"] if gpu else ["off"]):
        generator.config.compile = mode  # the same loaded model, decoded both ways
        _progress(f"single-question latency, compile {mode}")
        first = _timed(lambda: answer(1), 5, gpu)
        full = _timed(lambda: answer(new_tokens), 5, gpu)
        answers[mode] = answer(new_tokens)
        figures[f"compile_{mode}"] = {
            "time_to_first_token_s": first,
            "decode_per_token_s": (full - first) / (new_tokens - 1),
        }
    if len(answers) == 2:  # the compiled greedy loop must give the eager generate's answer, token for token
        figures["compiled_equals_eager"] = answers["on"] == answers["off"]
        _progress(f"compiled answer equals eager: {figures['compiled_equals_eager']}")
    generator.config.max_new_tokens = new_tokens
    return figures


def _search_time(embedder: SentenceTransformerEmbedder, corpus: list[str], question: str, gpu: bool) -> float | None:
    """One query against a Chroma collection of ``corpus``; None where chromadb is not installed."""
    try:
        import chromadb  # noqa: F401
    except ImportError:
        return None
    from ragkit.stores.chroma import ChromaStore
    from ragkit.types import Chunk

    store = ChromaStore(ChromaStore.Config(path=tempfile.mkdtemp(prefix="ragkit-bench-store-")))
    chunks = [Chunk(text, {"source": f"doc{i}.md", "ordinal": i}) for i, text in enumerate(corpus)]
    store.upsert(chunks, embedder.embed_documents(corpus))
    vector = embedder.embed_queries([question])
    return _timed(lambda: store.query(vector, 5), 20, gpu)


def _decode_floor(model: Any, ceilings: dict[str, float]) -> dict[str, float]:
    """Bytes of weights read once per token over the measured bandwidth, plus launching one decode step's kernels."""
    from torch.profiler import ProfilerActivity, profile
    from transformers import DynamicCache

    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    ids = torch.randint(100, 1000, (1, 64), device=model.device)
    cache = DynamicCache(config=model.config)
    with torch.inference_mode():
        model(input_ids=ids, past_key_values=cache, use_cache=True)
        step = ids[:, -1:]
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            model(input_ids=step, past_key_values=cache, use_cache=True)
            torch.cuda.synchronize()
    kernels = sum(1 for event in prof.events() if event.device_type == torch.autograd.DeviceType.CUDA)
    memory_s = weight_bytes / ceilings["bandwidth_bytes_per_s"]
    launch_s = kernels * ceilings["graph_kernel_launch_s"]
    return {
        "weight_bytes": weight_bytes,
        "kernels_per_step": kernels,
        "memory_s": memory_s,
        "launch_s": launch_s,
        "floor_s": memory_s + launch_s,
    }


# --- report ---------------------------------------------------------------------


def _print_table(results: dict[str, Any], gpu: bool) -> None:
    embedding, ask, latency = results["embedding"], results["ask_many"], results["latency"]
    rows = [
        ("embedding vs best encode (fp16, best batch)", embedding["vs_best"], ">= 0.90"),
        ("embedding vs default encode", embedding["vs_default"], ">= 3.0"),
        ("ask_many answers/s vs plain generate loop", ask["speedup"], ">= 10"),
    ]
    floor = results.get("floor")
    if floor:
        compiled = latency["compile_on"]["decode_per_token_s"]
        rows.append(("decode per token / floor (compiled)", compiled / floor["floor_s"], "<= 2.0"))
        rows.append(("decode per token / floor (eager)", latency["compile_off"]["decode_per_token_s"] / floor["floor_s"], ""))
    print(f"\nragkit benchmark on {results['device']} (torch {results['torch']})"
          f"{' with random weights' if results['random_weights'] else ''}")
    print(f"{'figure':48} {'ratio':>8}  target{'' if gpu else ' (GPU)'}")
    for name, ratio, target in rows:
        print(f"{name:48} {ratio:8.2f}  {target}")
    print(f"\nembedding: ragkit {embedding['ragkit_texts_per_s']:.0f} texts/s, best encode "
          f"{embedding['best_encode_texts_per_s']:.0f} (batch {embedding['best_encode_batch_size']}), default encode "
          f"{embedding['default_encode_texts_per_s']:.0f}")
    print(f"ask_many: ragkit {ask['ragkit_answers_per_s']:.2f} answers/s (batch {ask['batch_size']}, "
          f"{ask['mean_prompt_tokens']:.0f} prompt tokens, {ask['new_tokens']} new), plain loop "
          f"{ask['plain_loop_answers_per_s']:.2f}; batched == single for {ask['batched_equals_single']}"
          + (f" (float32: {ask['batched_equals_single_float32']}; compiled loop == eager generate "
             f"{ask['compiled_equals_eager_float32']})" if "compiled_equals_eager_float32" in ask else ""))
    search = latency["search_s"]
    print(f"latency: embed query {latency['embed_query_s'] * 1e3:.1f} ms, search "
          f"{'n/a (no chromadb here)' if search is None else f'{search * 1e3:.1f} ms'}, prompt {latency['prompt_s'] * 1e3:.1f} ms")
    for mode in ("compile_off", "compile_on"):
        if mode in latency:
            figures = latency[mode]
            print(f"  {mode}: first token {figures['time_to_first_token_s'] * 1e3:.1f} ms, "
                  f"decode {figures['decode_per_token_s'] * 1e3:.2f} ms/token")
    if floor:
        print(f"floor: {floor['weight_bytes'] / 1e9:.2f} GB at {results['ceilings']['bandwidth_bytes_per_s'] / 1e12:.2f} TB/s = "
              f"{floor['memory_s'] * 1e3:.2f} ms + {floor['kernels_per_step']} kernels x "
              f"{results['ceilings']['graph_kernel_launch_s'] * 1e6:.2f} us = {floor['launch_s'] * 1e3:.2f} ms "
              f"-> {floor['floor_s'] * 1e3:.2f} ms/token")
    print(f"load: warm {results['load_warm_s']:.1f} s" + (f", cold {results['load_cold_s']:.1f} s" if "load_cold_s" in results else ""))


if __name__ == "__main__":
    main()
