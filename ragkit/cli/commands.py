"""The ``ragkit`` subcommands, one function each, called with the parsed arguments."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from typing import Any

from ragkit.cli.output import location, print_ingest_report, print_json, print_support, safe
from ragkit.settings import DEFAULT_TOKEN_ENV
from ragkit.types import IngestReport

def build_rag(args: argparse.Namespace, overrides: dict[str, Any] | None = None) -> Any:
    from ragkit.pipeline import RAG

    return RAG.from_yaml(args.pipeline, overrides) if args.pipeline else RAG.from_dict({}, overrides)


def ingest(args: argparse.Namespace) -> int:
    if args.via:
        reports = ingest_via(args)
    else:
        from ragkit.ingest import ray_engine

        rag = build_rag(args, {"loading": {"engine": args.engine}} if args.engine else None)
        progress = False if args.quiet or args.json else None
        # With --json, stdout carries the report alone: what a library prints there meanwhile (Ray's
        # driver prints its cluster's worker errors to stdout) goes to stderr.
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
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
            ray_engine.disconnect()  # inside the redirect: the driver's log thread prints until it has left
    if args.json:
        print_json([report.to_dict() for report in reports] if len(reports) > 1 else reports[0].to_dict())
        return 0
    for report in reports:
        print_ingest_report(report)
    # the summary users look for at the end of a long run, failures last
    for kind in ("skipped", "failed"):
        listed = [(report.root, item) for report in reports for item in getattr(report, kind)]
        if listed:
            print(f"\n{kind} ({len(listed)}):")
            for root, item in listed:
                path = item.path if len(reports) == 1 else f"{root}/{item.path}"
                print(f"  {safe(path)}: {safe(item.reason)}")
    return 0


# Connecting fails fast; an ingest may rightly take long, but not forever.
VIA_TIMEOUT = {"connect": 10.0, "read": 3600.0, "write": 60.0, "pool": 10.0}


def ingest_via(args: argparse.Namespace) -> list[IngestReport]:
    """Each path ingested by the server at ``--via`` (paths sent absolute: the server checks them against its roots)."""
    import httpx

    if args.rebuild:
        raise ValueError("--rebuild cannot go through a server; stop it and run `ragkit ingest --rebuild PATH`")
    if args.engine:
        raise ValueError("--engine cannot go through a server: its pipeline's loading.engine decides how it ingests")
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


def ask(args: argparse.Namespace) -> int:
    rag = build_rag(args)
    where = filters(args.filter)
    if args.json or args.no_stream:
        answer = rag.ask(args.question, args.k, where)
        if args.json:
            print_json(answer.to_dict())
            return 0
        print(safe(answer.text, keep="\n\t"))
    else:
        stream = rag.stream(args.question, args.k, where)
        for token in stream:
            print(safe(token, keep="\n\t"), end="", flush=True)
        print()
        assert stream.answer is not None  # set once the stream is exhausted
        answer = stream.answer
    print_support(answer)
    return 0


def retrieve(args: argparse.Namespace) -> int:
    hits = build_rag(args).retrieve(args.question, args.k, filters(args.filter))
    if args.json:
        print_json([hit.to_dict() for hit in hits])
        return 0
    if not hits:
        print("no passages found")
    for number, hit in enumerate(hits, start=1):
        snippet = safe(" ".join(hit.text.split())[:300])
        print(f"[{number}] {location(hit)}  (score {hit.score:.3f})\n    {snippet}")
    return 0


def stats(args: argparse.Namespace) -> int:
    stats = build_rag(args).stats()
    if args.json:
        print_json(stats)
        return 0
    for key, value in stats.items():
        print(f"{key}: {safe(str(value))}")
    return 0


def models_list(args: argparse.Namespace) -> int:
    from ragkit.models import statuses

    found = statuses()
    if args.json:
        print_json([status.to_dict() for status in found])
        return 0
    width = max(len(status.alias) for status in found)
    for status in found:
        state = "installed" if status.installed else "missing"
        detail = status.location if status.installed else f"install with: {status.install}"
        print(f"{status.alias:<{width}}  {state:<9}  {detail}")
    return 0


def models_install(args: argparse.Namespace) -> int:
    from ragkit.installer import install

    progress = False if args.quiet or args.json else None
    done = [line for name in args.name for line in install(name, wheels=args.wheels, progress=progress)]
    if args.json:
        print_json(done)
    else:
        print("\n".join(done))
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ragkit.server.app import create_app

    rag = build_rag(args)
    options = ("host", "port", "roots", "token_env", "max_batch", "max_wait_ms")
    given = {key: value for key in options if (value := getattr(args, key)) is not None}
    settings = type(rag.config.server).model_validate({**rag.config.server.model_dump(), **given})
    app = create_app(rag, settings)
    # Load the models before taking requests, so a missing model fails here, in one line,
    # and the first question does not pay for loading.
    logging.getLogger(__name__).info("loading the models")
    rag.warm_up()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning" if args.quiet else "info")


def eval(args: argparse.Namespace) -> int:
    report = build_rag(args).evaluate(
        args.questions,
        args.k,
        generate=not args.no_generate,
        where=filters(args.filter),
        progress=False if args.quiet else None,
    )
    if args.json == "-":
        print_json(report.to_dict())
        return 0
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report.to_dict(), out, ensure_ascii=False, indent=2)
    print(report.table())
    return 0


def filters(pairs: list[str]) -> dict[str, Any] | None:
    where: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"filter {pair!r} must look like KEY=VALUE, e.g. file_type=pdf")
        where[key] = int(value) if value.isdigit() else value
    return where or None
