"""The evaluator: loading question sets, the metric functions, and the report over a hand-made set."""

import json
from pathlib import Path

import pytest

from ragkit.evaluation import (
    EvalQuestion,
    EvalReport,
    EvalResult,
    EvalSetError,
    contains_answers,
    gold_rank,
    load_questions,
    parse_question,
    same_file,
)
from ragkit.evaluation.gold import hit_at, reciprocal_rank
from ragkit.answering import NO_ANSWER
from ragkit.types import Answer, Citation, Hit

from paths import SHARED


def _hit(source: str, page: int | None = None) -> Hit:
    metadata = {"source": source, **({"page": page} if page is not None else {})}
    return Hit(id=f"{source}#{page}", text="", score=0.5, metadata=metadata)


def _answer(text: str, *, cites: list[str] = (), abstained: bool = False, invalid: int = 0, held: str = "") -> Answer:
    """An answer citing passages named ``cites``, each holding the text ``held``."""
    citations = [Citation(number, source, None, source) for number, source in enumerate(cites, start=1)]
    sources = [Hit(id=source, text=held, score=0.5, metadata={"source": source}) for source in cites]
    return Answer("q", text, sources, "", {"retrieve": 0.01}, citations, invalid, abstained)


# loading -----------------------------------------------------------------------


def test_load_questions_reads_every_kind_of_line(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    lines = [
        {"id": "a", "question": "Q1?", "answers": ["14"], "file": "guides/t.md"},
        {"question": "Q2?", "answers": [], "answer_start": "ignored"},
        {"id": 7, "question": "Q3?", "file": "pdf/r.pdf", "page": 2},
        {"question": "Q4?", "page": None},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines[:2]) + "\n\n" + json.dumps(lines[2]) + "\n" + json.dumps(lines[3]))
    questions = load_questions(path)
    assert questions == [
        EvalQuestion("Q1?", ["14"], "guides/t.md", None, "a"),
        EvalQuestion("Q2?", [], None, None, None),
        EvalQuestion("Q3?", None, "pdf/r.pdf", 2, 7),
        EvalQuestion("Q4?"),
    ]
    assert [q.unanswerable for q in questions] == [False, True, False, False]
    assert [q.answerable for q in questions] == [True, False, True, False]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON (Expecting property name enclosed in double quotes at column 2)"),
        ('["a list"]', "expected a JSON object like"),
        ('{"answers": ["x"]}', "'question' must be a non-empty string"),
        ('{"question": "  "}', "'question' must be a non-empty string"),
        ('{"question": "q", "answer": "14"}', "unknown key 'answer'; gold answers go in 'answers'"),
        ('{"question": "q", "answers": "14"}', "'answers' must be a list of non-empty strings (or of lists of alternative strings), or [] for"),
        ('{"question": "q", "answers": ["14", ""]}', "'answers' must be a list of non-empty strings"),
        ('{"question": "q", "file": 3}', "'file' must be a non-empty path"),
        ('{"question": "q", "file": "a.pdf", "page": 0}', "'page' must be a page number from 1"),
        ('{"question": "q", "file": "a.pdf", "page": "2"}', "'page' must be a page number from 1"),
        ('{"question": "q", "page": 2}', "'page' needs a 'file'"),
        ('{"question": "q", "id": [1]}', "'id' must be a string or a number"),
    ],
)
def test_bad_lines_fail_with_the_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "fine"}\n\n' + line + "\n")
    with pytest.raises(EvalSetError) as error:
        load_questions(path)
    assert str(error.value).startswith(f"{path}, line 3: ")
    assert message in str(error.value)


def test_an_empty_set_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n  \n")
    with pytest.raises(EvalSetError, match="no questions; write one JSON object a line"):
        load_questions(path)


def test_the_shared_debian_dev_set_loads() -> None:
    dev_set = SHARED / "eval" / "dev_debian_faq.jsonl"
    if not dev_set.exists():
        pytest.skip(f"{dev_set} is not in this checkout")
    questions = load_questions(dev_set)
    assert len(questions) > 100
    assert all(q.file and q.file.startswith("html/") and q.answers is None and q.id for q in questions)


def test_our_unanswerable_sets_load_and_are_all_unanswerable() -> None:
    for name in ("debian_unanswerable.jsonl", "sample_docs_unanswerable.jsonl"):
        questions = load_questions(Path(__file__).parents[1] / "benchmarks" / "eval" / name)
        assert questions and all(q.unanswerable for q in questions)
        assert len({q.question for q in questions}) == len(questions)


def test_parse_question_names_the_question_in_errors() -> None:
    with pytest.raises(EvalSetError, match="^question 4: 'question' must be"):
        parse_question({"question": 3}, "question 4")


# metric functions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "gold", "same"),
    [
        ("doc__x.html", "html/doc__x.html", True),  # only the html folder was ingested
        ("html/doc__x.html", "doc__x.html", True),  # the set names the file alone
        ("corpus/html/doc__x.html", "html/doc__x.html", True),  # the corpus' parent was ingested
        ("html/doc__x.html", "html/doc__x.html", True),
        ("./html/doc__x.html", "html//doc__x.html", True),
        ("html\\doc__x.html", "html/doc__x.html", True),
        ("xdoc__x.html", "html/doc__x.html", False),  # a suffix, but not at a folder boundary
        ("md/doc__x.html", "html/doc__x.html", False),
        ("doc__x.html.bak", "doc__x.html", False),
        ("", "doc__x.html", False),
    ],
)
def test_same_file_is_a_path_suffix_at_a_folder_boundary(source: str, gold: str, same: bool) -> None:
    assert same_file(source, gold) is same


def test_gold_rank_is_the_first_hit_at_the_gold_file_and_page() -> None:
    hits = [_hit("r.pdf", 1), _hit("a.md"), _hit("pdf/r.pdf", 2), _hit("r.pdf", 2)]
    assert gold_rank(hits, "pdf/r.pdf") == 1
    assert gold_rank(hits, "pdf/r.pdf", page=2) == 3
    assert gold_rank(hits, "pdf/r.pdf", page=3) is None
    assert gold_rank(hits, "guides/a.md") == 2
    assert gold_rank([], "a.md") is None


def test_hit_at_and_reciprocal_rank() -> None:
    assert [hit_at(2, depth) for depth in (1, 2, 3)] == [False, True, True]
    assert hit_at(None, 10) is False
    assert reciprocal_rank(1) == 1.0 and reciprocal_rank(4) == 0.25 and reciprocal_rank(None) == 0.0


def test_contains_answers_needs_every_gold_string_ignoring_case() -> None:
    assert contains_answers("The Lumen-7 tokenizer reserves 14 special TOKENS.", ["14", "special tokens"])
    assert not contains_answers("The tokenizer reserves 14.", ["14", "special tokens"])
    assert contains_answers("Tandem MODE", ["tandem"])
    assert contains_answers("anything", [])


def test_contains_answers_takes_one_of_the_alternatives_after_normalising() -> None:
    gold = ["apt", ["apt-get install", "aptitude install"]]
    assert contains_answers("Run APT:\n  aptitude   install foo", gold)
    assert not contains_answers("Run apt with dpkg", gold)
    assert contains_answers("端口是 ８０８０。", ["8080"])  # full-width digits
    assert parse_question({"question": "q", "answers": [["a", "b"], "c"]}, "x").answers == [["a", "b"], "c"]
    with pytest.raises(EvalSetError, match="lists of alternative strings"):
        parse_question({"question": "q", "answers": [[]]}, "x")


# the report over a hand-made set -----------------------------------------------

# Eight questions whose figures are worked out by hand below.
HAND_MADE = [
    # 1: gold file first                                   -> rank 1
    EvalResult(EvalQuestion("q1", file="a.md"), [_hit("a.md"), _hit("b.md")], rank=1, abstained=False),
    # 2: gold file second, found by its path suffix        -> rank 2
    EvalResult(EvalQuestion("q2", file="docs/b.md"), [_hit("a.md"), _hit("b.md")], rank=2, abstained=False),
    # 3: gold page third (page 1 of the same file is not it) -> rank 3
    EvalResult(
        EvalQuestion("q3", file="p.pdf", page=2), [_hit("p.pdf", 1), _hit("a.md"), _hit("p.pdf", 2)], rank=3, abstained=False
    ),
    # 4: nothing retrieved: not found, and a false abstention
    EvalResult(EvalQuestion("q4", file="z.md"), [], rank=None, abstained=True),
    # 5, 6: the documents do not answer; 5 abstains, 6 does not
    EvalResult(EvalQuestion("q5", answers=[]), [], rank=None, abstained=True, answer=_answer(NO_ANSWER, abstained=True)),
    EvalResult(EvalQuestion("q6", answers=[]), [_hit("a.md")], rank=None, abstained=False, answer=_answer("It is 3 [1].", cites=["a.md"])),
    # 7: every gold string contained, case aside; 8: a wrong number
    EvalResult(
        EvalQuestion("q7", answers=["14", "tokens"]), [_hit("t.md")], rank=None, abstained=False,
        answer=_answer("It reserves 14 special TOKENS [1] [9].", cites=["t.md"], invalid=1, held="14 special tokens"),
    ),
    EvalResult(EvalQuestion("q8", answers=["220"]), [_hit("c.md")], rank=None, abstained=False, answer=_answer("It is 200.")),
]


def test_ranks_of_the_hand_made_set_are_what_gold_rank_computes() -> None:
    for result in HAND_MADE:
        if result.question.file is not None:
            assert gold_rank(result.hits, result.question.file, result.question.page) == result.rank


def test_report_figures_over_the_hand_made_set() -> None:
    report = EvalReport("hand-made", k=10, generated=True, results=HAND_MADE, latency={"retrieve": 0.01})
    metrics = report.metrics()
    assert metrics["questions"] == 8
    # Questions 1-4 have a gold file, at ranks 1, 2, 3 and none.
    assert metrics["retrieval"] == {
        "questions": 4,
        "hit@1": 1 / 4,
        "hit@3": 3 / 4,
        "hit@5": 3 / 4,
        "hit@10": 3 / 4,
        "mrr": (1 + 1 / 2 + 1 / 3 + 0) / 4,
    }
    assert metrics["answers"] == {"questions": 2, "accuracy": 1 / 2}  # 7 right, 8 wrong
    assert metrics["abstention"] == {"questions": 2, "accuracy": 1 / 2}  # 5 abstained, 6 did not
    assert metrics["false_abstention"] == {"questions": 6, "rate": 1 / 6}  # 1-4, 7, 8 answerable; 4 abstained
    # Answers were generated for 5-8; 5 abstained, so 6, 7 and 8 count; 6 and 7 cite a passage.
    # 7, the one correct answer, cites a passage holding its gold strings.
    assert metrics["citations"] == {
        "answers": 3, "citing": 2 / 3, "invalid": 1, "gold_file_cited": None, "gold_file_questions": 0,
        "correct_with_verified_citation": 1.0, "correct_answers": 1,
    }
    assert metrics["grounding"] == {"answers": 3, "grounded": 0.0, "repaired": 0, "degenerate": 0}
    assert [r.answer_correct for r in HAND_MADE] == [None] * 6 + [True, False]
    assert [r.abstention_correct for r in HAND_MADE] == [None] * 4 + [True, False, None, None]


def test_degenerate_and_repaired_answers_are_counted() -> None:
    bare, repaired = _answer("[1]", cites=["a.md"]), _answer("It is 3.", cites=["a.md"])
    repaired.repaired = "regenerated"
    results = [
        EvalResult(EvalQuestion("q", answers=["3"]), [_hit("a.md")], rank=None, abstained=False, answer=answer)
        for answer in (bare, repaired)
    ]
    grounding = EvalReport("x", k=1, generated=True, results=results).metrics()["grounding"]
    assert (grounding["degenerate"], grounding["repaired"]) == (1, 1)


def test_figures_are_reported_per_language_when_the_set_has_two() -> None:
    results = [
        EvalResult(EvalQuestion("How many?", answers=["3"]), [], rank=None, abstained=False, answer=_answer("It is 3.")),
        EvalResult(EvalQuestion("有多少？", answers=["4"]), [], rank=None, abstained=False, answer=_answer("是 5。")),
    ]
    report = EvalReport("x", k=1, generated=True, results=results)
    by_language = report.metrics()["by_language"]
    assert by_language["en"]["answers"]["accuracy"] == 1.0 and by_language["zh"]["answers"]["accuracy"] == 0.0
    assert "zh: answer accuracy" in report.table()


def test_hit_depths_follow_k() -> None:
    assert EvalReport("x", k=3, generated=False, results=HAND_MADE).depths == [1, 3]
    assert EvalReport("x", k=4, generated=False, results=HAND_MADE).depths == [1, 3, 4]
    assert EvalReport("x", k=20, generated=False, results=HAND_MADE).depths == [1, 3, 5, 10, 20]
    metrics = EvalReport("x", k=3, generated=False, results=HAND_MADE).metrics()
    assert set(metrics["retrieval"]) == {"questions", "hit@1", "hit@3", "mrr"} and "citations" not in metrics


def test_figures_over_no_question_are_none_and_left_out_of_the_table() -> None:
    only_retrieval = EvalReport("set.jsonl", k=5, generated=False, results=HAND_MADE[:2], latency={"retrieve": 0.0123})
    metrics = only_retrieval.metrics()
    assert metrics["answers"] == {"questions": 0, "accuracy": None}
    assert metrics["abstention"] == {"questions": 0, "accuracy": None}
    table = only_retrieval.table()
    assert table.splitlines()[0] == "set.jsonl: 2 questions, top 5 retrieved, retrieval only"
    assert "answer accuracy" not in table and "abstention accuracy" not in table
    assert "hit@1" in table and "MRR@5" in table and "latency: retrieve" in table and "12.3 ms" in table


def test_table_and_json_of_the_hand_made_set() -> None:
    report = EvalReport("hand-made", k=10, generated=True, results=HAND_MADE, latency={"retrieve": 0.01, "generate": 1.5})
    rows = {line.split("  ")[1].strip(): line for line in report.table().splitlines()[2:]}
    assert "0.250" in rows["hit@1"] and "4 questions with a gold file" in rows["hit@1"]
    assert "0.458" in rows["MRR@10"]  # 11/24
    assert "0.500" in rows["answer accuracy"] and "0.500" in rows["abstention accuracy"]
    assert "0.167" in rows["false abstentions"] and "1500.0 ms" in rows["latency: generate"]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["metrics"]["retrieval"]["mrr"] == round(11 / 24, 4)
    assert data["latency_seconds"] == {"retrieve": 0.01, "generate": 1.5}
    assert [row["question"] for row in data["results"]] == [f"q{n}" for n in range(1, 9)]
    third, seventh = data["results"][2], data["results"][6]
    assert third["rank"] == 3 and third["page"] == 2 and third["hits"][2] == {"source": "p.pdf", "page": 2, "score": 0.5}
    assert "answer" not in third  # nothing generated for it
    assert seventh["answer_correct"] is True and seventh["invalid_citations"] == 1
    assert seventh["citations"] == [{"number": 1, "source": "t.md", "page": None, "hit_id": "t.md", "span": "", "support": 0.0}]
    assert seventh["verified_citation"] is True and seventh["grounded"] is False
