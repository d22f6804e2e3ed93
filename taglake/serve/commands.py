"""`taglake serve api|refresh-cache`: the tag retrieval API on 127.0.0.1, and the cache it reads on AWS."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from taglake.core.cli_args import Subparsers
from taglake.core.errors import Refused
from taglake.core.project import Project


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "serve",
        help="the tag retrieval API: serve it on 127.0.0.1 (curl it), or refresh the DynamoDB cache it reads",
        description="The tag retrieval API (docs/retrieval.md): GET /customers/<token>/tags and POST "
        "/customers/tags/batch answer a customer's current tags, by customer token only. `api` runs the same "
        "Lambda handler as AWS on 127.0.0.1 over the local build (DuckDB, read-only), or with --cache over moto's "
        "in-memory DynamoDB filled from it. `refresh-cache` writes every customer's current tags from the build "
        "into the DynamoDB table the Lambda reads (a put per customer, stale customers deleted; --moto: into "
        "moto's, in memory, to try it). `openapi` writes the API's OpenAPI document generated from the code "
        "(taglake/serve/openapi.json); --check fails if the checked-in copy is not current.",
    )
    actions = p.add_subparsers(dest="serve_action", required=True, metavar="ACTION")
    a = actions.add_parser("api", help="run the retrieval API on 127.0.0.1 until Ctrl-C")
    a.add_argument("--port", type=int, default=8788, help="the port (default 8788; 0 picks a free one)")
    a.add_argument("--host", default="127.0.0.1", help="the loopback address to listen on (default 127.0.0.1)")
    a.add_argument("--duckdb", type=Path, default=None, help="the build to read (default: the checkout's)")
    a.add_argument("--cache", action="store_true", help="read moto's DynamoDB cache filled from the build")
    a.set_defaults(func=cmd_serve_api)
    r = actions.add_parser("refresh-cache", help="write the build's current tags into the DynamoDB cache")
    r.add_argument("--table", default=None, help="the DynamoDB table (default taglake-tag-cache)")
    r.add_argument("--region", default=None, help="the AWS region (default: boto3's, e.g. AWS_REGION)")
    r.add_argument("--duckdb", type=Path, default=None, help="the build to read (default: the checkout's)")
    r.add_argument(
        "--from-athena",
        action="store_true",
        help="read the marts on Athena instead of a local build (TAGLAKE_AWS_REGION, TAGLAKE_ATHENA_SCHEMA, "
        "TAGLAKE_ATHENA_WORK_GROUP, TAGLAKE_ATHENA_S3_STAGING_DIR, as profiles.yml reads them)",
    )
    r.add_argument("--moto", action="store_true", help="into moto's in-memory DynamoDB (a dry run)")
    r.set_defaults(func=cmd_refresh_cache)
    o = actions.add_parser(
        "openapi",
        help="write (or --check) taglake/serve/openapi.json, the API's OpenAPI document generated from the code",
    )
    o.add_argument("--check", action="store_true", help="write nothing; exit 1 when the checked-in copy is stale")
    o.set_defaults(func=cmd_openapi)


def _database(ns: argparse.Namespace, project: Project) -> Path:
    database = (ns.duckdb or project.duckdb_path).resolve()
    if not database.is_file():
        raise Refused(f"{database}: no local build; run `taglake build` first, or pass --duckdb")
    return database


def cmd_serve_api(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.core.lambda_local import LOOPBACK
    from taglake.privacy.access_policy import consumption_layers
    from taglake.serve.local import ServeError, ServeOptions, serve

    if ns.host not in LOOPBACK:
        raise ServeError("--host: the local server listens on the loopback address only (127.0.0.1)")
    if not 0 <= ns.port <= 65535:
        raise ServeError("--port: 0 to 65535")
    options = ServeOptions(
        host=ns.host,
        port=ns.port,
        database=_database(ns, project),
        consumption_layers=consumption_layers(project.root),
        cache=ns.cache,
    )
    try:
        serve(options, lambda line: print(line, file=sys.stderr, flush=True))
    except KeyboardInterrupt:
        print("taglake serve api: stopped", file=sys.stderr)
    return 0


def cmd_refresh_cache(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from contextlib import ExitStack

    import boto3

    from taglake.privacy.access_policy import consumption_layers
    from taglake.serve.local import CACHE_TABLE, REGION
    from taglake.serve.store import DuckDBTagStore, create_cache_table, refresh_cache

    table = ns.table or CACHE_TABLE
    with ExitStack() as stack:
        if ns.moto:
            from moto import mock_aws

            stack.enter_context(mock_aws())
        client = boto3.client("dynamodb", region_name=ns.region or (REGION if ns.moto else None))
        if ns.moto:
            create_cache_table(client, table)
        if ns.from_athena:
            customers = _athena_customers(stack)
        else:
            store = stack.enter_context(DuckDBTagStore(_database(ns, project), consumption_layers(project.root)))
            customers = store.all_customer_tags()
        done = refresh_cache(customers, client, table)
    as_of = done.as_of_date.isoformat() if done.as_of_date else "none"
    where = f"moto's {table} (in memory, gone now)" if ns.moto else table
    print(f"refreshed {where}: {done.written} customers written, {done.deleted} stale deleted, as of {as_of}")
    return 0


def _athena_customers(stack: Any) -> Iterator[Any]:
    """Every customer's current tags from the marts on Athena, one query (PyAthena), in the target's workgroup."""
    import pyathena

    from taglake.serve.store import athena_names, customers_from_cursor

    env = os.environ
    missing = [n for n in ("TAGLAKE_AWS_REGION", "TAGLAKE_ATHENA_SCHEMA", "TAGLAKE_ATHENA_WORK_GROUP",
                           "TAGLAKE_ATHENA_S3_STAGING_DIR") if not env.get(n)]  # fmt: skip
    if missing:
        raise Refused(f"--from-athena: set {', '.join(missing)} (docs/deployment.md)")
    connection = stack.enter_context(
        pyathena.connect(
            region_name=env["TAGLAKE_AWS_REGION"],
            work_group=env["TAGLAKE_ATHENA_WORK_GROUP"],
            s3_staging_dir=env["TAGLAKE_ATHENA_S3_STAGING_DIR"],
        )
    )
    return customers_from_cursor(connection.cursor(), athena_names(env["TAGLAKE_ATHENA_SCHEMA"]))


def cmd_openapi(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.core.errors import TaglakeError
    from taglake.serve.openapi import default_openapi_path, openapi_is_current, write_openapi

    if ns.check:
        if not openapi_is_current():
            raise TaglakeError(
                f"{default_openapi_path()}: not what the code generates; run `taglake serve openapi` and commit it"
            )
        print("taglake/serve/openapi.json is current")
        return 0
    print(f"wrote {write_openapi()}")
    return 0
