"""The answerer's decisions on replies given exactly: regenerate a bare ``[1]``, abstain when that fails, skip the model
when the passages lack what the question names. Replies come from a scripted OpenAI-compatible server on loopback,
through the real ``openai`` generator."""

from collections.abc import Iterator

import pytest

from ragkit.answering import COMPLETE_REQUEST, NO_ANSWER, RETRY_REQUEST, Answerer
from ragkit.config import AnswerConfig
from ragkit.generators.openai import OpenAIGenerator
from ragkit.types import Hit, Prompt
from scripted import Reply, Scripted, completion

QUESTION = "How long does docker run wait with --stop-timeout unset?"
PASSAGE = Hit(
    id="h1",
    text="The --stop-timeout flag sets how long to wait. Without it, Docker waits 10 seconds before killing the container.",
    score=0.5,
    metadata={"source": "docker.md"},
)
PROMPT = Prompt(messages=[{"role": "user", "content": f"[1] {PASSAGE.text}\n\nQuestion: {QUESTION}"}], passages=[PASSAGE])


@pytest.fixture
def server() -> Iterator[list[Scripted]]:
    started: list[Scripted] = []
    yield started
    for each in started:
        each.close()


def _answerer(server: list[Scripted], *replies: str, **config: object) -> tuple[Answerer, Scripted]:
    script = Scripted([Reply(body=completion(text)) for text in replies])
    server.append(script)
    generator = OpenAIGenerator(OpenAIGenerator.Config(base_url=script.url, model="scripted", max_retries=0))
    return Answerer(generator, AnswerConfig(**config)), script


def test_a_bare_citation_is_regenerated_with_the_reply_shown_back(server: list[Scripted]) -> None:
    answerer, script = _answerer(server, "[1]", "Docker waits 10 seconds [1].")
    [answer] = answerer.answer_many([QUESTION], [PROMPT])
    assert (answer.text, answer.repaired, answer.draft) == ("Docker waits 10 seconds [1].", "regenerated", "[1]")
    assert answer.grounded and [citation.hit_id for citation in answer.citations] == ["h1"]
    retry = script.requests[1][1]["messages"]
    assert retry[-2:] == [{"role": "assistant", "content": "[1]"}, {"role": "user", "content": RETRY_REQUEST}]


def test_a_second_degenerate_reply_is_an_abstention_keeping_the_first_as_draft(server: list[Scripted]) -> None:
    answerer, script = _answerer(server, "[1]", "[1][2]")
    [answer] = answerer.answer_many([QUESTION], [PROMPT])
    assert (answer.text, answer.abstained, answer.repaired, answer.draft) == (NO_ANSWER, True, "abstained", "[1]")
    assert answer.citations == [] and len(script.requests) == 2


def test_a_streamed_degenerate_reply_is_replaced_as_ask_would(server: list[Scripted]) -> None:
    answerer, _ = _answerer(server, "[1]", "Docker waits 10 seconds.")
    stream = answerer.stream(QUESTION, PROMPT)
    assert "".join(stream) == "Docker waits 10 seconds." == stream.answer.text
    assert stream.answer.repaired == "regenerated" and not stream.abstained


def test_a_question_naming_what_no_passage_holds_is_declined_without_the_model(server: list[Scripted]) -> None:
    answerer, script = _answerer(server, "Docker waits 10 seconds.")
    unknown = "What is the default of docker run --stop-grace-period?"
    [declined, answered] = answerer.answer_many([unknown, QUESTION], [PROMPT, PROMPT])
    assert declined.abstained and declined.text == NO_ANSWER and declined.sources == [PASSAGE] and declined.prompt == ""
    assert not answered.abstained and len(script.requests) == 1  # only the answerable question reached the model
    stream = answerer.stream(unknown, PROMPT)
    assert stream.abstained and list(stream) == [NO_ANSWER]


def test_the_identifier_check_can_be_turned_off(server: list[Scripted]) -> None:
    answerer, script = _answerer(server, "Docker waits 10 seconds.", require_identifiers=False)
    [answer] = answerer.answer_many(["What is the default of docker run --stop-grace-period?"], [PROMPT])
    assert answer.text == "Docker waits 10 seconds." and len(script.requests) == 1


def test_a_bare_value_is_completed_into_a_sentence_that_keeps_it(server: list[Scripted]) -> None:
    answerer, script = _answerer(server, "10 seconds", "Docker waits 10 seconds before killing the container.")
    [answer] = answerer.answer_many([QUESTION], [PROMPT])
    assert (answer.text, answer.repaired, answer.draft) == ("Docker waits 10 seconds before killing the container.", "completed", "10 seconds")
    assert script.requests[1][1]["messages"][-1] == {"role": "user", "content": COMPLETE_REQUEST}


def test_a_sentence_that_changes_the_value_is_refused_and_the_value_stands(server: list[Scripted]) -> None:
    answerer, _ = _answerer(server, "10 seconds", "Docker waits 30 seconds.")
    [answer] = answerer.answer_many([QUESTION], [PROMPT])
    assert (answer.text, answer.repaired) == ("10 seconds", None)


def test_bare_values_stand_when_completion_is_off(server: list[Scripted]) -> None:
    answerer, script = _answerer(server, "10 seconds", complete_fragments=False)
    [answer] = answerer.answer_many([QUESTION], [PROMPT])
    assert (answer.text, answer.repaired, len(script.requests)) == ("10 seconds", None, 1)
