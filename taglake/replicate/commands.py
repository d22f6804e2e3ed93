"""`taglake replicate`: upsert the application's marts into the bank's RDS Oracle (docs/replication.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from taglake.core.cli_args import Subparsers
from taglake.core.project import Project

HELP = """\
Upsert the marts the application role reads (vars.replication in dbt_project.yml: the tag profile, the tags held
and the tag catalog) into a replica schema, RDS Oracle in production, with SQLAlchemy: tables made from the marts'
contracts, MERGE on each mart's unique key, only new or changed rows moved (a watermark table in the replica),
rows gone from a mart deleted, and the counts reconciled (a difference exits 1 naming the table). Rerunning
changes nothing. Only tokens and figures are replicated; the password is never printed. See docs/replication.md."""

EPILOG = """\
examples:
  TAGLAKE_REPLICA_URL='oracle+oracledb://taglake_app@replica.example:1521/?service_name=TAGS' taglake replicate
  taglake replicate --secret-id taglake/replica --schema TAGLAKE_APP
  taglake replicate --source-url-env TAGLAKE_ATHENA_URL   # read the marts on Athena (awsathena+rest://…)"""


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "replicate",
        help="upsert the application's marts into the RDS Oracle replica",
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    conn = p.add_mutually_exclusive_group()
    conn.add_argument(
        "--url-env",
        default="TAGLAKE_REPLICA_URL",
        metavar="VAR",
        help="environment variable holding the replica's SQLAlchemy URL (default: TAGLAKE_REPLICA_URL)",
    )
    conn.add_argument(
        "--secret-id", metavar="NAME", help="AWS Secrets Manager secret with the replica's RDS credentials"
    )
    p.add_argument("--schema", metavar="NAME", help="the replica's schema (default: the connecting user's own)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--source-db", type=Path, metavar="PATH", help="the DuckDB build to read (default: the local one)")
    src.add_argument(
        "--source-url-env", metavar="VAR", help="environment variable holding the source's SQLAlchemy URL (Athena)"
    )
    p.add_argument("--manifest", type=Path, metavar="PATH", help="dbt's manifest (default: target/manifest.json)")
    p.add_argument("--region", metavar="REGION", help="AWS region of the secret (default: the environment's)")
    p.set_defaults(func=_replicate)


def _replicate(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    import sqlalchemy as sa

    from taglake.replicate import credentials
    from taglake.replicate.replica import replicate
    from taglake.replicate.source import open_source
    from taglake.replicate.spec import load_specs

    specs = load_specs(ns.manifest or project.target_path / "manifest.json", project.root)
    if ns.secret_id:
        import boto3

        url = credentials.url_from_secrets_manager(ns.secret_id, boto3.client("secretsmanager", region_name=ns.region))
    else:
        url = credentials.url_from_env(ns.url_env)
    source_url = credentials.url_from_env(ns.source_url_env) if ns.source_url_env else None
    print(
        f"replicate: {len(specs)} table(s) to {credentials.shown(url)}" + (f" schema {ns.schema}" if ns.schema else "")
    )
    engine = sa.create_engine(url)
    try:
        with open_source(
            duckdb_path=None if source_url else (ns.source_db or project.duckdb_path), url=source_url
        ) as source:
            results = replicate(engine, source, specs, schema=ns.schema)
    finally:
        engine.dispose()
    for r in results:
        print(
            f"  {r.table}: {r.replica_rows:,} rows (= source), upserted {r.upserted:,}, deleted {r.deleted:,}"
            + (f", high watermark {r.high_watermark}" if r.high_watermark else "")
        )
    print("replicate: counts reconciled")
    return 0
