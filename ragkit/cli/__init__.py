"""The ``ragkit`` command: ingest, ask, chat, retrieve, stats, eval, serve, models."""

from __future__ import annotations

import logging
import os
import sys

from ragkit.cli.output import SafeFormatter, safe
from ragkit.cli.parser import build_parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    if args.quiet or args.json:
        os.environ["TQDM_DISABLE"] = "1"  # every bar, the embedder's and the libraries' too
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("ragkit: %(message)s"))
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, handlers=[handler])
    for noisy in ("httpx", "httpx2", "chromadb", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("ragkit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line, not a traceback
        if args.verbose:
            raise
        print(f"ragkit: error: {safe(_describe(exc))}", file=sys.stderr)
        return 2 if _is_usage_error(exc) else 1


def _quiet_libraries() -> None:
    """Library progress bars and advice would bury ragkit's own output."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _describe(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"no such file or folder: {exc.filename}"
    return str(exc) or type(exc).__name__


def _is_usage_error(exc: Exception) -> bool:
    from ragkit.config import ConfigError
    from ragkit.models import ModelNotAvailableError

    return isinstance(exc, (ConfigError, ModelNotAvailableError))
