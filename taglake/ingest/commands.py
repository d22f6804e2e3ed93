"""The ingestion commands: `taglake api serve|openapi` and `taglake schema-registry check|write`."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path

from taglake.core.cli_args import Subparsers
from taglake.core.errors import Refused, TaglakeError
from taglake.core.project import Project


class RegistryOutOfDate(TaglakeError):
    """The schema registry or the OpenAPI document is not what the code and the YAML generate."""


def register(sub: Subparsers) -> None:
    _add_api(sub)
    _add_schema_registry(sub)


def _add_api(sub: Subparsers) -> None:
    p = sub.add_parser(
        "api",
        help="the ingestion API: serve it on 127.0.0.1 (curl it), or write and check its OpenAPI document",
        description="The ingestion API (docs/ingestion.md): POST /ingest/<source>/<table> with one record or a "
        "batch, an x-request-id (a UUID) and x-api-key. `serve` runs the same Lambda handler as AWS on "
        "127.0.0.1, writing accepted records into the local lake (the next `taglake build` reads them) or, with "
        "--moto, into moto's in-memory S3; idempotency records live in moto's DynamoDB. The API key is "
        "TAGLAKE_API_KEY or the key file (made on first use, mode 600); it is never printed. `openapi` writes "
        "the OpenAPI document generated from the code (taglake/ingest/openapi.json); --check fails if the "
        "checked-in one differs.",
    )
    actions = p.add_subparsers(dest="api_action", required=True, metavar="ACTION")
    s = actions.add_parser("serve", help="run the API on 127.0.0.1 until Ctrl-C")
    s.add_argument("--port", type=int, default=8787, help="the port (default 8787; 0 picks a free one)")
    s.add_argument("--host", default="127.0.0.1", help="the loopback address to listen on (default 127.0.0.1)")
    s.add_argument("--lake-dir", type=Path, default=None, help="the lake to write into (default: the checkout's)")
    s.add_argument("--moto", action="store_true", help="write into moto's in-memory S3 instead of a lake")
    s.add_argument(
        "--landing-date",
        default=None,
        metavar="YYYY-MM-DD|today",
        help="the landing partition of every batch (default: the lake's last landing day, so the next build is "
        "complete; with --moto: today, UTC)",
    )
    s.add_argument(
        "--api-key-file",
        type=Path,
        default=None,
        help="where the local API key is (default .secrets/ingest_api_key; TAGLAKE_API_KEY wins)",
    )
    s.set_defaults(func=cmd_api_serve)
    o = actions.add_parser("openapi", help="write (or --check) taglake/ingest/openapi.json")
    o.add_argument("--check", action="store_true", help="exit 1 if the checked-in document is not current")
    o.set_defaults(func=cmd_api_openapi)


def _add_schema_registry(sub: Subparsers) -> None:
    p = sub.add_parser(
        "schema-registry",
        help="check or update the raw tables' versioned JSON Schemas (taglake/ingest/json-schemas/)",
        description="The schema registry (docs/ingestion.md): a JSON Schema per raw table and version, generated "
        "from the source YAML. `check` (CI) fails when the YAML has changed without a new version, or when a "
        "breaking version (a field removed or retyped, a new required field) has no migration note. `write` adds "
        "a version for each changed table, classified compatible or breaking; a breaking one gets a placeholder "
        "note that you replace (index.json versions.<N>.migration) before check passes.",
    )
    p.add_argument("action", choices=["check", "write"])
    p.set_defaults(func=cmd_schema_registry)


def cmd_api_serve(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ingest.local import (
        API_KEY_FILE,
        LOOPBACK,
        ServeError,
        ServeOptions,
        lake_last_day,
        local_api_key,
        serve,
    )

    if ns.host not in LOOPBACK:
        raise ServeError("--host: the local server listens on the loopback address only (127.0.0.1)")
    lake_dir = None if ns.moto else (ns.lake_dir or project.lake_dir).resolve()
    if lake_dir is not None and not (lake_dir / "raw").is_dir():
        raise ServeError(f"{lake_dir}: no raw/ folder; run `taglake generate` first, or pass --lake-dir or --moto")
    landing: date | None
    if ns.landing_date in (None, "today"):
        landing = None if (ns.landing_date == "today" or lake_dir is None) else lake_last_day(lake_dir)
    else:
        try:
            landing = date.fromisoformat(ns.landing_date)
        except ValueError:
            raise ServeError("--landing-date: a date YYYY-MM-DD or `today`") from None
    if not 0 <= ns.port <= 65535:
        raise ServeError("--port: 0 to 65535")
    key, origin = local_api_key(ns.api_key_file or project.root / API_KEY_FILE, dict(os.environ))
    print(f"API key: from {origin} (send it as x-api-key)", file=sys.stderr)
    options = ServeOptions(host=ns.host, port=ns.port, lake_dir=lake_dir, landing=landing, api_key=key)
    try:
        serve(options, lambda line: print(line, file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("taglake api serve: stopped", file=sys.stderr)
    return 0


def cmd_api_openapi(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ingest.openapi import default_openapi_path, openapi_is_current, write_openapi

    if ns.check:
        if not openapi_is_current():
            raise RegistryOutOfDate(
                f"{default_openapi_path()}: not what the code generates; run `taglake api openapi` and commit it"
            )
        print("openapi.json is current")
        return 0
    print(f"wrote {write_openapi()}")
    return 0


def cmd_schema_registry(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ingest.registry import check_registry, write_registry

    if ns.action == "write":
        lines = write_registry(project.root)
        print("\n".join(lines) if lines else "the registry is current")
        problems = check_registry(project.root)
        for line in problems:
            print(line, file=sys.stderr)
        return 1 if problems else 0
    problems = check_registry(project.root)
    if problems:
        for line in problems[:-1]:
            print(f"taglake schema-registry: {line}", file=sys.stderr)
        raise Refused(problems[-1])
    print("the schema registry is current")
    return 0
