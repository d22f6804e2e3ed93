"""The AWS commands: `taglake catalog`, `upload`, `lake-formation` and `mwaa-bundle`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from taglake.core.cli_args import Subparsers, add_aws_options
from taglake.core.project import Project
from taglake.core.text_tables import format_table


def register(sub: Subparsers) -> None:
    _add_catalog(sub)
    _add_upload(sub)
    _add_lake_formation(sub)
    _add_mwaa_bundle(sub)


def _add_catalog(sub: Subparsers) -> None:
    p = sub.add_parser(
        "catalog",
        help="create or update the raw Glue databases and tables from the source YAML",
        description="Register the raw zone in the AWS Glue catalog from the dbt source YAML, the one declaration of "
        "each raw table: a database per source (its `schema:`), a table per source table with its columns, hive "
        "types, year/month/day partition keys, format and SerDe, description, its S3 location "
        "s3://BUCKET/PREFIX/<source>/<table>/ and partition projection (no crawler, no MSCK REPAIR). With "
        "--keys-location, also restricted_keys.masking_keys over the restricted key folder (docs/privacy.md). "
        "Idempotent: prints created, updated or unchanged per database and table.",
    )
    p.add_argument("--bucket", required=True, help="the raw bucket")
    p.add_argument("--prefix", default="raw", help="key prefix of the raw zone in the bucket (default: raw)")
    p.add_argument(
        "--keys-location",
        default=None,
        help="S3 folder of the masking key (restricted, KMS-encrypted); without it the key table is not registered",
    )
    p.add_argument(
        "--database",
        action="append",
        default=[],
        metavar="SCHEMA=NAME",
        help="register a source schema under another Glue database name (repeatable)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the databases and TableInput JSON; call nothing")
    add_aws_options(p)
    p.set_defaults(func=cmd_catalog)


def _add_upload(sub: Subparsers) -> None:
    p = sub.add_parser(
        "upload",
        help="put a generated lake's raw zone into S3, skipping what is already there",
        description="Upload LAKE/raw/<source>/<table>/year=…/month=…/day=…/<file> to "
        "s3://BUCKET/PREFIX/<source>/<table>/…, the layout `taglake catalog` registers. An object already there "
        "with the same size and ETag is skipped, so a second run uploads nothing. Hidden files and folders and key "
        "files are never uploaded: the masking key is provisioned on its own (docs/privacy.md).",
    )
    p.add_argument("--bucket", required=True, help="the raw bucket")
    p.add_argument("--prefix", default="raw", help="key prefix of the raw zone in the bucket (default: raw)")
    p.add_argument("--lake-dir", type=Path, default=None, help="the generated lake (default: lake/ in the checkout)")
    add_aws_options(p)
    p.set_defaults(func=cmd_upload)


def _add_lake_formation(sub: Subparsers) -> None:
    p = sub.add_parser(
        "lake-formation",
        help="create the LF-tags and grant each role its LF-tag policies, from the access declaration",
        description="Lake Formation from the one access declaration (vars access in dbt_project.yml): the LF-tags "
        "layer, dataset and pii with every value; the layer tag on the raw, key and taglake Glue databases; and each "
        "role's LF-tag policy grants (persons: SELECT on layer x dataset x pii, never pii=clear nor raw, keys, "
        "staging, intermediate or vault). `plan` prints them as JSON and calls nothing; `apply` makes Lake "
        "Formation hold exactly them (a second run changes nothing). docs/deployment.md, roles and permissions.",
    )
    p.add_argument("action", choices=["plan", "apply"], help="plan: print the JSON; apply: call Lake Formation")
    p.add_argument(
        "--principal",
        action="append",
        default=[],
        metavar="ROLE=ARN",
        help="the IAM principal of a role (repeatable; default: TAGLAKE_LF_PRINCIPAL_<ROLE>); apply needs every role",
    )
    p.add_argument(
        "--athena-schema", default=None, help="prefix of the taglake Glue databases (default: TAGLAKE_ATHENA_SCHEMA)"
    )
    p.add_argument("--catalog-id", default=None, help="the Data Catalog's account id (default: the caller's)")
    p.add_argument("--dry-run", action="store_true", help="with apply: print the plan, call nothing")
    add_aws_options(p)
    p.set_defaults(func=cmd_lake_formation)


def _database_names(pairs: Sequence[str]) -> dict[str, str]:
    names = {}
    for pair in pairs:
        schema, sep, name = pair.partition("=")
        if not sep or not schema or not name:
            raise ValueError(f"--database takes SCHEMA=NAME, not {pair!r}")
        names[schema] = name
    return names


def cmd_catalog(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    import json
    import os

    from taglake.aws.glue_catalog import glue_client, plan_catalog, sync_catalog

    plan = plan_catalog(
        bucket=ns.bucket, prefix=ns.prefix, keys_location=ns.keys_location, database_names=_database_names(ns.database)
    )
    if ns.dry_run:
        print(json.dumps({"databases": plan.databases, "tables": plan.tables}, indent=2, ensure_ascii=False))
        return 0
    glue = glue_client(region=ns.region or os.environ.get("TAGLAKE_AWS_REGION"), endpoint_url=ns.endpoint_url)
    print(format_table(["database or table", "result"], sync_catalog(glue, plan)))
    return 0


def cmd_lake_formation(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    import json
    import os

    from taglake.aws import lake_formation as lf
    from taglake.core.sources import catalog_tables
    from taglake.privacy.access_policy import load_access

    policy = load_access(project.root)
    principals = {r: os.environ.get(f"TAGLAKE_LF_PRINCIPAL_{r.upper()}", "") for r in policy.roles}
    for pair in ns.principal:
        role, sep, arn = pair.partition("=")
        if not sep or not role or not arn:
            raise ValueError("--principal takes ROLE=ARN")
        if role not in policy.roles:
            raise ValueError(f"--principal: {role} is not a role of vars access in dbt_project.yml")
        principals[role] = arn
    dry = ns.action == "plan" or ns.dry_run
    if dry:  # a plan shows where a principal is still missing
        principals = {r: p or f"<TAGLAKE_LF_PRINCIPAL_{r.upper()}>" for r, p in principals.items()}
    schema = ns.athena_schema or os.environ.get("TAGLAKE_ATHENA_SCHEMA")
    if not schema:
        raise ValueError("no Athena schema: pass --athena-schema or set TAGLAKE_ATHENA_SCHEMA")
    tables = catalog_tables(project.root).values()
    plan = lf.plan_lake_formation(
        policy,
        principals,
        athena_schema=schema,
        raw_databases={t.schema for t in tables if not t.restricted},
        keys_databases={t.schema for t in tables if t.restricted},
        catalog_id=ns.catalog_id,
    )
    if dry:
        print(json.dumps(plan.to_json(), indent=2, ensure_ascii=False))
        return 0
    client, glue = lf.lf_clients(ns.region or os.environ.get("TAGLAKE_AWS_REGION"), ns.endpoint_url)
    report = lf.apply_lake_formation(client, glue, plan)
    print(format_table(["tag, database or grant", "result"], report.rows))
    return 0


def cmd_upload(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    import os

    from taglake.aws.s3_upload import print_progress, s3_client, upload_lake

    s3 = s3_client(region=ns.region or os.environ.get("TAGLAKE_AWS_REGION"), endpoint_url=ns.endpoint_url)
    lake = (ns.lake_dir or project.lake_dir).resolve()
    report = upload_lake(s3, lake, ns.bucket, ns.prefix, progress=print_progress)
    print(
        f"uploaded {len(report.uploaded):,} files ({report.bytes_uploaded:,} bytes) to s3://{ns.bucket}/"
        f"{ns.prefix.strip('/')}; {len(report.skipped):,} already there"
    )
    return 0


def _add_mwaa_bundle(sub: Subparsers) -> None:
    p = sub.add_parser(
        "mwaa-bundle",
        help="lay out what goes to the MWAA bucket: the DAG, requirements, startup script, the dbt project bundle",
        description="Write OUT/requirements.txt, OUT/startup.sh, OUT/dags/ (the taglake_daily DAG and its helpers) "
        "and OUT/dags/taglake_project/ (the checkout's git-tracked files only, plus target/manifest.json from an "
        "offline `dbt parse` for the production target, which cosmos renders the task group from). The manifest is "
        "checked for personal-data shapes and the local key's material; a bundle that fails is removed. Then "
        '`aws s3 sync OUT s3://<mwaa bucket>/` (docs/deployment.md, "The MWAA bucket").',
    )
    p.add_argument("--target", default="athena", help="the production dbt target to parse for (default: athena)")
    p.add_argument("--out", type=Path, default=Path("build") / "mwaa", help="the folder (default: build/mwaa)")
    p.set_defaults(func=cmd_mwaa_bundle)


def cmd_mwaa_bundle(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.aws.mwaa_bundle import make_bundle

    bundle = make_bundle(project, ns.out, target=ns.target)
    print(f"mwaa-bundle: {bundle.files} tracked files and the {ns.target} manifest under {bundle.root}")
    return 0
