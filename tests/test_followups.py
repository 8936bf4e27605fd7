"""The pure parts of making a follow-up standalone: the cheap check, the concatenation, the rewrite prompt, the fusion."""

from __future__ import annotations

import pytest

from ragkit.followups import concatenated, fuse, parse_rewrite, rewrite_messages, stands_alone
from ragkit.types import Hit


@pytest.mark.parametrize(
    "question",
    [
        "How do I limit a container's memory?",
        "Which dockerd flag replaced the deprecated -g / --graph option?",
        "Where does systemd's journal store the persistent binary logs?",
        "Which option is the setting that limits how many commits are shown?",
        "Which R command reports the compiler flags, such as CFLAGS, needed to link against R?",
        "How do you run the examples with Podman instead of dockerd?",
        "Which Git command undoes a faulty merge commit M relative to its first parent?",
        "What is the default chunk size of the Lumen chunker?",
        "在 Debian 中，想借助 git 自动记录 /etc 下配置文件的改动，可以安装哪个软件包？",
        "Debian 参考手册里，把 U 盘上的分区格式化成 LUKS 加密卷用的是哪条命令？",
        "根据 Debian Edu 12 手册，应该在哪个目录下存放备份？",  # 应该 ("should") holds 该 but points nowhere
    ],
)
def test_questions_that_stand_alone_are_retrieved_as_asked(question: str) -> None:
    assert stands_alone(question)


@pytest.mark.parametrize(
    "question",
    [
        "and its CPU?",
        "And which one replaces apt-cache policy?",
        "What about Windows?",
        "Does its --patch mode keep the index intact by default?",
        "Where can they read the archives of the debian-private list?",
        "Which filesystem does that driver create on the base device?",
        "What command can be placed in that directory to refuse logins?",
        "Why?",
        "它的主服务器默认配置的 IP 地址是多少？",
        "那 tmux 用哪个组合键？",
        "CPU 呢？",
        "这本手册里怎么说？",
        "端口？",
    ],
)
def test_follow_ups_that_point_back_are_made_standalone(question: str) -> None:
    assert not stands_alone(question)


def test_the_concatenation_puts_the_previous_questions_first() -> None:
    query = concatenated(" and its CPU? ", ["How do I limit a container's memory?"])
    assert query == "How do I limit a container's memory? and its CPU?"
    assert concatenated("它呢？", ["第一个问题？", "第二个问题？"]) == "第一个问题？ 第二个问题？ 它呢？"


def test_the_rewrite_prompt_holds_the_turns_and_the_question() -> None:
    messages = rewrite_messages("and its CPU?", [("How do I limit a container's memory?", "Use --memory. " * 60)])
    assert [message["role"] for message in messages] == ["system", "user"]
    user = messages[1]["content"]
    assert "User: How do I limit a container's memory?" in user and user.endswith("Last question: and its CPU?\nRewritten question:")
    assert len(user) < 600  # the earlier answer is cut, not the question
    assert "中文" in rewrite_messages("它呢？", [("第一个问题？", "")])[1]["content"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("How do I limit a Docker container's CPU?", "How do I limit a Docker container's CPU?"),
        ('Rewritten question: "How do I limit the CPU?"\nThe answer is --cpus.', "How do I limit the CPU?"),
        ("\n\n问题：Debian Edu 12 的主服务器的 IP 地址是多少？", "Debian Edu 12 的主服务器的 IP 地址是多少？"),
        ("", ""),
        ("x" * 500, ""),
    ],
)
def test_the_rewrite_is_the_first_line_of_the_reply(reply: str, expected: str) -> None:
    assert parse_rewrite(reply) == expected


def _hits(*ids: str) -> list[Hit]:
    return [Hit(id=hit_id, text=f"text {hit_id}", score=1.0, metadata={"source": f"{hit_id}.md"}) for hit_id in ids]


def test_fusion_ranks_a_passage_both_queries_found_first_and_keeps_k() -> None:
    fused = fuse([_hits("a", "b", "c"), _hits("c", "d", "a")], k=3)
    assert [hit.id for hit in fused] == ["a", "c", "b"]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 63) and fused[0].scores["queries"] == fused[0].score
    assert fused[0].text == "text a" and fused[0].metadata == {"source": "a.md"}
