"""Grounding: sentences attributed to the passages that support them, degenerate replies and refusals caught."""

from ragkit.grounding import (
    keeps_value,
    degenerate_reason,
    ground,
    identifiers,
    is_fragment,
    is_refusal,
    missing_identifiers,
    new_identifiers,
    new_terms,
    sentences,
    terms,
)
from ragkit.types import Hit


def _hit(number: int, text: str, **metadata: object) -> Hit:
    return Hit(id=f"id{number}", text=text, score=0.5, metadata={"source": f"doc{number}.md", **metadata})


GIT = _hit(1, "Shallow clones.\nA shallow clone is made with git clone --depth 1. It fetches only the newest commit.")
DOCKER = _hit(2, "The Docker daemon listens on /var/run/docker.sock by default. Use -H to change it.")
FAQ_ZH = _hit(3, "Debian 使用 dpkg 管理软件包。要安装一个本地的 .deb 文件，请运行 dpkg -i 文件名。", page=4)
PASSAGES = [GIT, DOCKER, FAQ_ZH]


def test_sentences_split_english_and_chinese_without_breaking_numbers() -> None:
    assert sentences("It is 1.5 GB. Then stop! 然后运行。再检查。") == ["It is 1.5 GB.", "Then stop!", "然后运行。", "再检查。"]


def test_soft_wrapped_lines_are_joined_into_their_sentence_and_structure_lines_stay_units() -> None:
    wrapped = (
        "Sets how large the spool file may grow before the daemon, which rotates the\n"
        "logs, starts a new one.\nThe default limit is 20M. Note, old spools are kept\n"
        "compressed, so a 20M spool doesn't take\n20 MB on disk.\n"
        "## Options\n- first item\n1) numbered\n| a | b |\n```console\n$ sudo dockerd\n```"
    )
    assert sentences(wrapped) == [
        "Sets how large the spool file may grow before the daemon, which rotates the logs, starts a new one.",
        "The default limit is 20M.",
        "Note, old spools are kept compressed, so a 20M spool doesn't take 20 MB on disk.",
        "## Options", "- first item", "1) numbered", "| a | b |", "```console", "$ sudo dockerd", "```",
    ]
    assert sentences("默认的基础设备\n大小是十吉字节。\n第二章\n简介") == ["默认的基础设备大小是十吉字节。", "第二章简介"]
    assert sentences("See the list:\n1) one\ngoes on\n2) two") == ["See the list:", "1) one goes on", "2) two"]


def test_terms_are_stemmed_words_numbers_and_chinese_bigrams() -> None:
    assert {"clone", "depth", "1"} <= terms("Clones with --depth 1")
    assert {"软件", "件包"} <= terms("软件包")


def test_an_english_sentence_is_attributed_to_the_passage_that_holds_it() -> None:
    grounding = ground("Use git clone --depth 1 [1].", "How do I make a shallow clone in git?", PASSAGES, 0.5)
    assert grounding.grounded and grounding.support == 1.0
    [citation] = grounding.citations
    assert (citation.number, citation.source, citation.hit_id) == (1, "doc1.md", "id1")
    assert citation.span == "A shallow clone is made with git clone --depth 1."


def test_a_chinese_sentence_is_attributed_with_its_page_and_span() -> None:
    grounding = ground("运行 dpkg -i 文件名 即可安装本地的 .deb 文件。", "如何在 Debian 中安装本地的 .deb 文件？", PASSAGES, 0.5)
    assert grounding.grounded
    [citation] = grounding.citations
    assert (citation.number, citation.page) == (3, 4)
    assert "dpkg -i" in citation.span


def test_passages_that_support_a_sentence_equally_cite_the_best_retrieved_whatever_the_prompt_order() -> None:
    weaker = Hit(id="weak", text="Shallow clones use git clone --depth 1 too.", score=0.2, metadata={"source": "weak.md"})
    stronger = Hit(id="strong", text="A shallow clone: git clone --depth 1.", score=0.9, metadata={"source": "strong.md"})
    question = "How do I make a shallow clone in git?"
    for passages in ([weaker, stronger], [stronger, weaker]):  # best last, then best first
        [citation] = ground("Use git clone --depth 1.", question, passages, 0.5).citations
        assert citation.hit_id == "strong"


def test_support_is_the_share_of_the_new_terms_the_passages_hold() -> None:
    grounding = ground("Use git clone --depth 1 to get only the newest commit.", "How do I make a shallow clone in git?", PASSAGES, 0.5)
    assert round(grounding.support, 3) == 0.857  # depth, 1, only, newest, commit and the option --depth held; "get" is not
    assert grounding.grounded and [citation.number for citation in grounding.citations] == [1]


def test_across_languages_the_shared_terms_ground_a_sentence() -> None:
    english = _hit(4, "To install a local package file, run dpkg -i with the file name.")
    grounding = ground("用 dpkg -i 命令安装。", "如何安装本地的软件包文件？", [english], 0.5)
    assert grounding.grounded and [citation.number for citation in grounding.citations] == [1]
    assert not ground("请使用图形界面安装。", "如何安装本地的软件包文件？", [english], 0.5).grounded  # no shared term


def test_a_made_up_answer_is_not_grounded_and_cites_nothing() -> None:
    grounding = ground(
        "Enable EPEL with dnf config-manager --set-enabled crb on Rocky Linux [1].",
        "How do I enable the EPEL repository with dnf on Rocky Linux?",
        PASSAGES,
        0.5,
    )
    assert not grounding.grounded and grounding.citations == []
    assert grounding.invalid_citations == 1  # the model's [1] does not support its sentence


def test_model_citations_are_kept_where_they_support_and_counted_where_they_do_not() -> None:
    text = "The daemon listens on /var/run/docker.sock [2][1]. A shallow clone uses --depth 1 [7]."
    grounding = ground(text, "Where does the Docker daemon listen, and how do shallow clones work?", PASSAGES, 0.5)
    assert [citation.number for citation in grounding.citations] == [1, 2]
    assert grounding.invalid_citations == 2  # [1] for the first sentence, and [7] that has no passage


def test_degenerate_replies_are_named() -> None:
    question = "How do I make a shallow clone in git?"
    assert degenerate_reason("[1]", question, PASSAGES) == "only citation markers"
    assert degenerate_reason(" [1], [2]. ", question, PASSAGES) == "only citation markers"
    assert degenerate_reason("", question, PASSAGES) == "empty"
    assert degenerate_reason("Shallow clones [1]", "How do I fetch only the newest commit?", PASSAGES) == (
        "a copy of a heading or line of a passage"
    )
    assert degenerate_reason("How do I make a shallow clone in git?", question, PASSAGES) == "says nothing beyond the question"
    assert degenerate_reason("Run git clone --depth 1 [1].", question, PASSAGES) is None
    assert degenerate_reason("The passages do not contain the answer.", question, PASSAGES) is None  # a refusal


def test_refusals_in_english_and_chinese() -> None:
    assert is_refusal("I don't know.")
    assert is_refusal("The passages do not contain this information [1].")
    assert is_refusal("文档中没有提到这个问题。")
    assert not is_refusal("Run git clone --depth 1.")
    assert not is_refusal("It does not need root.")


def test_identifiers_are_options_settings_paths_macros_and_names_with_digits() -> None:
    question = "Does merge.autoSquashLimit, --depth, /etc/papersize, \\LTmaxpages, libpaper1 or git-sh-setup's rule apply?"
    assert identifiers(question) == {"merge.autoSquashLimit", "--depth", "/etc/papersize", "\\LTmaxpages", "libpaper1", "git-sh-setup"}
    assert identifiers("Debian 的 /etc/apt/sources.list 文件在哪里？") == {"/etc/apt/sources.list"}
    assert identifiers("Is a self-built single-user kernel faster?") == set()


def test_an_identifier_is_missing_when_no_passage_holds_it_in_any_case() -> None:
    assert missing_identifiers("How deep is a git clone --DEPTH 1?", PASSAGES) == set()
    assert missing_identifiers("What does git clone --shallow-since do?", PASSAGES) == {"--shallow-since"}


def test_a_name_in_the_passages_document_path_or_title_is_held_by_the_passage() -> None:
    question = "How many rows per chunk does the LaTeX longtable package process by default?"
    chunk = "By default longtable uses 20 rows per chunk."
    assert missing_identifiers(question, [_hit(4, chunk)]) == {"LaTeX"}
    assert missing_identifiers(question, [_hit(4, chunk, source="pdf/texlive-doc/latex/tools/longtable.pdf")]) == set()
    assert missing_identifiers(question, [_hit(4, chunk, title="The LaTeX longtable package")]) == set()


def test_chinese_filler_bigrams_are_not_new_terms_and_do_not_sink_a_supported_answer() -> None:
    question = "想给软件包 xyz 的维护者写信，Debian FAQ 说应该发到什么邮件地址？"
    reply = "Debian FAQ 中提到的邮件地址是 xyz@packages.debian.org。"
    assert not any(len(term) == 2 and ("的" in term or "中" in term or term == "提到") for term in new_terms(reply, question))
    faq = _hit(5, "要联系软件包 xyz 的维护者，请发送邮件到 xyz@packages.debian.org。")
    assert ground(reply, question, [faq], 0.5).grounded


def test_a_bare_value_is_a_fragment_and_a_sentence_is_not() -> None:
    assert is_fragment("10") and is_fragment("`docker image prune`") and is_fragment("SIGTERM [1]") and is_fragment("dpkg 命令")
    assert not is_fragment("Docker waits 10 seconds.") and not is_fragment("It is 10 seconds by default")
    assert not is_fragment("[1]")  # no content at all: degenerate, not a fragment


def test_an_answer_that_joins_the_questions_words_into_a_name_is_new_and_grounded_by_that_name() -> None:
    question = "Which dockerd flag loads an authorization plugin, and can it be given more than once?"
    reply = "The `--authorization-plugin` flag loads an authorization plugin, and it can be given more than once."
    assert new_identifiers(reply, question) == {"--authorization-plugin"}
    assert degenerate_reason(reply, question, []) is None
    holding = _hit(1, "Use --authorization-plugin=PLUGIN_ID to load a plugin; the flag may be repeated.")
    assert ground(reply, question, [holding], 0.5).grounded
    assert not ground(reply, question, [_hit(2, "Plugins extend the daemon; authorization is one kind.")], 0.5).grounded
    said_back = "The flag loads an authorization plugin and can be given more than once."
    assert degenerate_reason(said_back, question, []) == "says nothing beyond the question"


def test_code_spans_and_dot_names_are_identifiers_but_the_questions_own_are_not_new() -> None:
    question = "Which docker command switches the default context used by the CLI?"
    assert new_identifiers("The `docker context use` command switches it.", question) == {"docker context use"}
    assert new_identifiers("Before .Last.sys, R runs .Last.", "Which function runs before .Last.sys?") == {".last"}
    assert identifiers("Is .bashrc read by a login shell?") == {".bashrc"}


def test_a_sentence_keeps_a_bare_value_only_with_its_names_whole() -> None:
    """The completion of a bare value may add words; it may not drop a name whose words it happens to use."""
    question = "Where can an R administrator put a site-wide Makevars file?"
    assert keeps_value("R_HOME/etc/Makevars.site", "The file goes in R_HOME/etc/Makevars.site.", question)
    assert not keeps_value("R_HOME/etc Makevars.site", "A site-wide Makevars file goes in R_HOME/etc.", question)
    assert keeps_value("10 seconds", "Docker waits 10 seconds [1].", "How long does Docker wait?")
    assert not keeps_value("10 seconds", "Docker waits 30 seconds.", "How long does Docker wait?")
