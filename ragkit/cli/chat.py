"""``ragkit chat``: a conversation on the terminal, answers streamed, follow-ups made standalone (``RAG.chat``).

Lines starting with ``/`` are commands: ``/reset`` starts a new conversation,
``/sources`` shows the last answer's passages again; Ctrl-D (end of input)
leaves. Questions are kept in a readline history file (the cache folder's
``chat_history`` unless ``--history`` names another), so the arrow keys bring
back those of earlier sessions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ragkit.cli.commands import build_rag, filters
from ragkit.cli.output import location, print_support, safe
from ragkit.types import Answer, Where

if TYPE_CHECKING:
    from ragkit.conversation import Conversation

HELP = "Ask about your documents. /reset starts a new conversation, /sources shows the last passages, Ctrl-D leaves."
HISTORY_LINES = 1000


def history_file(args: argparse.Namespace) -> Path:
    from ragkit.models import cache_dir

    return Path(args.history) if args.history else cache_dir() / "chat_history"


def load_readline(path: Path) -> ModuleType | None:
    """readline with the history of earlier sessions, where the platform has it (not on Windows)."""
    try:
        import readline
    except ImportError:
        return None
    readline.set_history_length(HISTORY_LINES)
    if path.is_file():
        readline.read_history_file(path)
    return readline


def chat(args: argparse.Namespace) -> int:
    rag = build_rag(args)
    where = filters(args.filter)
    conversation = rag.chat()
    path = history_file(args)
    readline = load_readline(path)
    print(HELP, flush=True)
    last: Answer | None = None
    try:
        while True:
            try:
                line = input("> ")
            except EOFError:
                print()
                return 0
            except KeyboardInterrupt:  # Ctrl-C drops the line being typed, as a shell does
                print()
                continue
            question = line.strip()
            if not question:
                continue
            if readline is not None and not sys.stdin.isatty():  # input() records only what a terminal typed
                readline.add_history(question)
            if question == "/reset":
                conversation.reset()
                last = None
                print("(a new conversation)")
            elif question == "/sources":
                if last is None or not last.sources:
                    print("(no passages yet)")
                else:
                    print_support(last)
            elif question.startswith("/"):
                print(f"unknown command {safe(question)}: /reset, /sources, or Ctrl-D to leave")
            else:
                last = answer(conversation, question, args.k, where)
    finally:
        if readline is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)


def answer(conversation: Conversation, question: str, k: int | None, where: Where | None) -> Answer:
    """Stream the answer, then say what was searched for (when the follow-up was rewritten) and the sources."""
    stream = conversation.stream(question, k, where)
    for token in stream:
        print(safe(token, keep="\n\t"), end="", flush=True)
    print()
    assert stream.answer is not None  # set once the stream is exhausted
    if stream.answer.query != question:
        print(f"(searched for: {safe(stream.answer.query)})")
    if stream.answer.sources:
        print("Sources: " + "; ".join(dict.fromkeys(location(hit) for hit in stream.answer.sources)), flush=True)
    return stream.answer
