"""Prompt compression with the real default embedder: a passage keeps the sentences closest to the question."""

from ragkit.compression import GAP, compress
from ragkit.types import Hit

PASSAGE = Hit(
    id="h1",
    text=(
        "Docker runs containers from images. Images are built from a Dockerfile. "
        "The --stop-timeout flag sets how long Docker waits before killing a container. "
        "The default is 10 seconds. Volumes keep data between runs. Networks connect containers."
    ),
    score=0.7,
    metadata={"source": "docker.md"},
)


def test_a_passage_keeps_its_closest_sentence_and_the_one_after_it(minilm) -> None:
    [kept] = compress("How long does Docker wait before killing a container on stop?", [PASSAGE], minilm, keep=1)
    assert kept.text == "The --stop-timeout flag sets how long Docker waits before killing a container. The default is 10 seconds."
    assert (kept.id, kept.score, kept.metadata) == (PASSAGE.id, PASSAGE.score, PASSAGE.metadata)


def test_gaps_between_kept_sentences_are_marked(minilm) -> None:
    passage = Hit(
        id="h3",
        text="Penguins live in Antarctica. Rust has a borrow checker. The checker runs at compile time. "
        "Tea grows in Assam. Tea is picked by hand.",
        score=0.5,
        metadata={},
    )
    [kept] = compress("Where do penguins live, and where does tea grow?", [passage], minilm, keep=2)
    # The two closest sentences, each with the one after it; the third sentence is cut.
    assert kept.text == "Penguins live in Antarctica. Rust has a borrow checker." + GAP + "Tea grows in Assam. Tea is picked by hand."


def test_keep_zero_or_a_short_passage_is_left_whole(minilm) -> None:
    short = Hit(id="h2", text="One sentence only.", score=0.5, metadata={})
    assert compress("Anything?", [PASSAGE, short], minilm, keep=0) == [PASSAGE, short]
    assert compress("Anything?", [short], minilm, keep=1) == [short]


def test_the_best_passages_named_by_whole_are_left_uncut(minilm) -> None:
    second = Hit(id="h4", text=PASSAGE.text, score=0.6, metadata={})
    question = "How long does Docker wait before killing a container on stop?"
    best, cut = compress(question, [PASSAGE, second], minilm, keep=1, whole=1)
    assert best == PASSAGE
    assert cut.text == "The --stop-timeout flag sets how long Docker waits before killing a container. The default is 10 seconds."
    assert compress(question, [PASSAGE, second], minilm, keep=1, whole=2) == [PASSAGE, second]
