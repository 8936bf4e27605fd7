import os
import time
from pathlib import Path

import pytest

from ragkit.augmenters.template import TemplateAugmenter
from ragkit.types import Hit


@pytest.fixture()
def counter(tiny_generator):
    """The budget is measured with a real generator's tokenizer and chat rendering."""
    return tiny_generator


def _hits(n: int) -> list[Hit]:
    return [
        Hit(f"id{i}", f"passage {i} " + "word " * 20, 1.0 - i / 10, {"source": f"doc{i}.md", **({"page": 3} if i == 1 else {})})
        for i in range(n)
    ]


def test_passages_are_numbered_with_sources_and_pages(counter) -> None:
    augmenter = TemplateAugmenter(TemplateAugmenter.Config(), counter=counter)
    prompt = augmenter.build("What is it?", _hits(3))
    system, user = prompt.messages
    assert system["role"] == "system" and "only" in system["content"]
    assert "square brackets" not in system["content"]  # citations come from grounding, not from a request for [n]
    assert "do not know" in system["content"]
    assert "[1] (source: doc2.md)" in user["content"]  # best last, by default
    assert "[2] (source: doc1.md, page 3)" in user["content"]
    assert "[3] (source: doc0.md)" in user["content"]
    assert user["content"].rstrip().endswith("Question: What is it?\nAnswer:")
    assert prompt.dropped == 0 and len(prompt.passages) == 3


def test_budget_drops_lowest_ranked_first_and_keeps_question(counter) -> None:
    three = TemplateAugmenter(TemplateAugmenter.Config(), counter=counter).build("q " * 5, _hits(3))
    budget = counter.count_prompt_tokens(three.messages) + 5  # room for three passages, not four
    augmenter = TemplateAugmenter(TemplateAugmenter.Config(order="best_first", max_prompt_tokens=budget), counter=counter)
    prompt = augmenter.build("q " * 5, _hits(4))
    assert [hit.id for hit in prompt.passages] == ["id0", "id1", "id2"]
    assert prompt.dropped == 1
    assert counter.count_prompt_tokens(prompt.messages) <= budget


def test_best_last_by_default_puts_the_best_passage_nearest_the_question_and_numbers_in_prompt_order(counter) -> None:
    three = TemplateAugmenter(TemplateAugmenter.Config(), counter=counter).build("q " * 5, _hits(3))
    budget = counter.count_prompt_tokens(three.messages) + 5
    augmenter = TemplateAugmenter(TemplateAugmenter.Config(max_prompt_tokens=budget), counter=counter)
    prompt = augmenter.build("q " * 5, _hits(4))
    assert [hit.id for hit in prompt.passages] == ["id2", "id1", "id0"]  # the lowest-ranked dropped, then reversed
    user = prompt.messages[1]["content"]
    assert user.index("[1] (source: doc2.md)") < user.index("[3] (source: doc0.md)")


def test_question_is_never_cut_even_if_nothing_fits(counter) -> None:
    question = "why " * 100
    augmenter = TemplateAugmenter(TemplateAugmenter.Config(max_prompt_tokens=10), counter=counter)
    prompt = augmenter.build(question, _hits(2))
    assert prompt.passages == [] and prompt.dropped == 2
    assert question.strip() in prompt.messages[1]["content"]


def test_template_from_yaml_value_and_file(counter, tmp_path: Path) -> None:
    custom = TemplateAugmenter(
        TemplateAugmenter.Config(template="Q={question}\nC={context}"), counter=counter
    ).build("x?", _hits(1))
    assert custom.messages[1]["content"].startswith("Q=x?\nC=[1]")
    path = tmp_path / "t.txt"
    path.write_text("Passages:\n{context}\n---\n{question} {literal braces}")
    from_file = TemplateAugmenter(TemplateAugmenter.Config(template_file=str(path)), counter=counter)
    assert from_file.build("y?", _hits(1)).messages[1]["content"].endswith("y? {literal braces}")


def test_template_without_slots_is_rejected(counter, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\{question\}"):
        TemplateAugmenter.Config(template="only {context}")
    path = tmp_path / "t.txt"
    path.write_text("no slots")
    with pytest.raises(ValueError, match="template file"):
        TemplateAugmenter(TemplateAugmenter.Config(template_file=str(path)), counter=counter)


def test_template_files_that_are_not_small_regular_files_fail_fast_naming_the_file(counter, tmp_path: Path) -> None:
    from ragkit.augmenters.template import MAX_TEMPLATE_BYTES

    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"{context} {question} " + b"x" * MAX_TEMPLATE_BYTES)
    fifo = tmp_path / "t.fifo"
    os.mkfifo(fifo)  # no writer: an open() for reading would block forever
    cases = {
        "/dev/zero": "prompt template file /dev/zero is a character device, not a regular file: never opened",
        str(huge): f"prompt template file {huge} is larger than the limit of 1,048,576 bytes",
        str(fifo): f"prompt template file {fifo} is a FIFO (named pipe), not a regular file: never opened",
    }
    for path, message in cases.items():
        started = time.monotonic()
        with pytest.raises(ValueError) as refused:
            TemplateAugmenter(TemplateAugmenter.Config(template_file=path), counter=counter)
        assert str(refused.value) == message and time.monotonic() - started < 1.0


def test_braces_in_passages_and_question_are_kept_verbatim(counter) -> None:
    hit = Hit("x", "use {question} and {context} literally", 0.9, {"source": "a.md"})
    prompt = TemplateAugmenter(TemplateAugmenter.Config(), counter=counter).build("what is {x}?", [hit])
    assert "use {question} and {context} literally" in prompt.messages[1]["content"]
    assert "Question: what is {x}?" in prompt.messages[1]["content"]


def test_chinese_questions_are_asked_for_a_chinese_sentence(counter) -> None:
    augmenter = TemplateAugmenter(TemplateAugmenter.Config(), counter=counter)
    chinese = augmenter.build("星河-3 的向量维度是多少？", _hits(1)).messages[1]["content"]
    assert chinese.endswith("Question: 星河-3 的向量维度是多少？\n请用一句完整的中文句子回答。\nAnswer:")
    for other in ("What is it?", "ベクトルの次元は何ですか？", "埋め込みモデルの次元数は？"):
        assert augmenter.build(other, _hits(1)).messages[1]["content"].endswith(f"Question: {other}\nAnswer:")
    custom = TemplateAugmenter(TemplateAugmenter.Config(template="{context}\n{question}"), counter=counter)
    assert custom.build("维度是多少？", _hits(1)).messages[1]["content"].endswith("\n维度是多少？")  # no slot, no hint


class CountingCounter:
    """The real generator's counting, with a tally of how many prompts it was asked to count."""

    def __init__(self, generator) -> None:
        self.generator, self.calls = generator, 0

    def count_prompt_tokens(self, messages) -> int:
        self.calls += 1
        return self.generator.count_prompt_tokens(messages)


def test_passages_that_do_not_fit_are_found_by_bisection_not_one_count_each(counter) -> None:
    three = TemplateAugmenter(TemplateAugmenter.Config(), counter=counter).build("q " * 5, _hits(3))
    budget = counter.count_prompt_tokens(three.messages) + 5
    counting = CountingCounter(counter)
    prompt = TemplateAugmenter(TemplateAugmenter.Config(max_prompt_tokens=budget), counter=counting).build("q " * 5, _hits(16))
    assert [hit.id for hit in prompt.passages] == ["id2", "id1", "id0"] and prompt.dropped == 13
    assert counting.calls <= 1 + 4  # the whole prompt, then log2(16) probes; one at a time took 14
    counting.calls = 0
    TemplateAugmenter(TemplateAugmenter.Config(), counter=counting).build("q " * 5, _hits(3))
    assert counting.calls == 1  # everything fits: counted once
