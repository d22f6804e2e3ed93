"""The `taglake` command: generate the synthetic lake, build it with dbt, and look at the result.

Every subcommand is a thin layer over a function the tests call directly.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from taglake import __version__, verify
from taglake.core.errors import DEBUG_ENV, Refused, report
from taglake.dbt import build, run_dbt
from taglake.offline import AWS_TARGETS
from taglake.project import Project
from taglake.tables import format_table

if TYPE_CHECKING:
    from taglake.lake.preflight import LakeCheckError

DEMO_ANALYSIS = "card_spend_by_category"

DESCRIPTION = """\
taglake builds a bank's customer-segment tag lake (客群標籤) with dbt: raw data in S3 (Glue catalog) becomes
staging, intermediate and mart tables on Amazon Athena or Redshift Spectrum in production, and on DuckDB on any
laptop or CI machine, over a synthetic lake laid out exactly as S3 holds it.

Start with `taglake demo` (what `make demo` runs): it generates the small lake, builds it on DuckDB and prints a
summary, one sample query and a leak scan. Personal data is masked in the first layer: see docs/privacy.md."""

EPILOG = """\
environment:
  TAGLAKE_TARGET        dbt target (default: local); athena and redshift read their settings from
                        TAGLAKE_* variables, see docs/deployment.md
  TAGLAKE_LAKE_DIR      the lake the local target reads (default: lake/ in the checkout)
  TAGLAKE_DUCKDB_PATH   the local DuckDB database (default: build/taglake.duckdb)
  TAGLAKE_KEY_FILE      the local masking key, outside git (default: .secrets/masking_keys.csv)
  TAGLAKE_SYSTEM_IDENTITY  the system identity the *_system targets need (no default): locally the file
                        `taglake system-identity init` made, on AWS the system role's ARN (docs/privacy.md)
  TAGLAKE_DEBUG         1: after an error's one line, where it was raised (files and lines; never values)

examples:
  taglake generate --scale medium --seed 7
  taglake query card_spend_by_category --csv spend.csv
  taglake upload --bucket bank-lake-raw && taglake catalog --bucket bank-lake-raw
  taglake lake-formation plan --athena-schema taglake
  taglake scan-pii
  taglake check-lake
  taglake build
  taglake generate --append-day && taglake run-daily
  taglake dbt source freshness
  taglake dbt build --select staging"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line on stderr that names the argument and never echoes its value
    (argparse's own message quotes it: `invalid int value: 'A123456789'`)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: {_safe_usage_error(message)} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def _safe_usage_error(message: str) -> str:
    first = message.splitlines()[0] if message else "bad arguments"
    for prefix in ("unrecognized arguments", "ambiguous option"):
        if first.startswith(prefix):
            return prefix
    # "argument --limit: invalid int value: 'x'" → "argument --limit: invalid int value"; choices keep our list.
    first = re.sub(r": '[^']*'", "", first)
    return re.sub(r"invalid choice(: \S+)?", "invalid choice", first)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a whole number, 0 or more") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be a whole number, 0 or more")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number, 0 or more") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number, 0 or more")
    return value


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write the synthetic raw zone and its defect manifest",
        description="Write a deterministic synthetic raw zone for a Taiwanese bank under OUT/raw, laid out as the "
        "S3 raw bucket (<source>/<table>/year=YYYY/month=MM/day=DD/<file>), with real-world defects injected "
        "and counted in OUT/manifest.json. See docs/raw-zone.md.",
    )
    p.add_argument("--out", type=Path, default=None, help="lake folder (default: lake/ in the checkout)")
    p.add_argument(
        "--scale",
        choices=["small", "medium", "large"],
        default="small",
        help="small: 2,000 customers, 30 days (default); medium: 100,000, 90; "
        "large: 1,000,000 customers, 365 days, ~50M card transactions",
    )
    p.add_argument("--customers", type=int, default=None, help="override the scale's customer count")
    p.add_argument("--days", type=int, default=None, help="override the scale's number of landing days")
    p.add_argument("--seed", type=int, default=42, help="random seed: the same seed gives the same files")
    p.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=date(2026, 10, 31),
        help="last landing day, YYYY-MM-DD (default: 2026-10-31)",
    )
    p.add_argument("--defect-rate", type=float, default=0.01, help="share of records given a defect (default: 0.01)")
    p.add_argument(
        "--append-day",
        dest="append_days",
        type=int,
        nargs="?",
        const=1,
        default=None,
        metavar="N",
        help="instead of a new lake, append the next landing day (or N days) to the lake in OUT: new "
        "transactions and app events (some late, for earlier days), changed, closed and new customers, account "
        "changes, model scores on the 1st of a month; manifest.json updated. The lake's own seed and sizes are "
        "used (the other options are ignored); earlier files are not touched",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_run_daily(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run-daily",
        help="the daily run: source freshness, incremental build, leak scan; prints a summary",
        description="Run one day: `dbt source freshness` (a stale source stops the run), `dbt deps` + `dbt build` "
        "(incremental facts process only the new landing partitions plus the late-arrival lookback; snapshots "
        "record what changed), then `taglake scan-pii` of the local build; on a local target the pre-flight check "
        "(`taglake check-lake`) runs before anything. Prints each step's status and time; "
        "exits 1 when a step fails. See docs/daily-runs.md.",
    )
    p.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    p.add_argument(
        "--append-day",
        action="store_true",
        help="simulate the day: first append the next landing day to the local lake (taglake generate --append-day)",
    )
    p.add_argument(
        "--allow-stale",
        action="store_true",
        help="go on when a source is stale (replaying an old lake); the summary still says so",
    )
    p.add_argument("--no-scan", action="store_true", help="skip the leak scan (only local builds are scanned)")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="more arguments for dbt build, after --")


def _add_build(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "build",
        help="dbt deps + dbt build on a target (default: local DuckDB)",
        description="Install the project's (local) dbt packages, then seed, run and test every node. On a local "
        "target the raw zone's pre-flight check (`taglake check-lake`) runs first; a problem stops the build.",
    )
    p.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="more arguments for dbt build, after --")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(
        "demo",
        help="generate the small lake, build it on DuckDB, print a summary, a sample query and a leak scan",
        description="The main job on a laptop: generate the default lake (unless one is there), make the masking "
        "key if there is none (`taglake keys init --if-missing`, said on the console), check the lake "
        "(`taglake check-lake`), dbt build on the local target, then print what landed, what staging accepted and "
        f"quarantined, the tables built, the result of analyses/{DEMO_ANALYSIS}.sql, and the leak scan of the "
        "build (exit 1 on any hit, 2 when there was nothing to scan).",
    )


def _add_dbt(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dbt",
        help="run a dbt command with this checkout's profiles.yml (outside *_system: no show, run-operation, --inline)",
        description="Run dbt in the project folder with DBT_PROFILES_DIR pointing at the repo's profiles.yml. Outside "
        "the system targets, what would print data or run arbitrary Jinja with the pipeline's access is refused: "
        "show, run-operation (but the project's create_spectrum_schemas), --inline, clone, retry, --state/--defer, "
        "--profiles-dir/--project-dir, --vars naming a privacy setting or holding more than a plain value, and docs "
        "serve beyond 127.0.0.1 (docs/privacy.md). A *_system target needs the system identity "
        "(TAGLAKE_SYSTEM_IDENTITY).",
    )
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="the dbt command and its arguments")


def _add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan-pii",
        help="search a build and its artifacts for clear personal data and key material",
        description="Take every clear value of the raw zone (national IDs, mobiles, e-mails, names) and the masking "
        "key as canaries, and search the local build (every text column of every relation) and the files under "
        "dbt's target/ and logs/ for them. Exit 1 with a report of every hit; the report never shows a value.",
        epilog="exit status: 0 clean (everything asked for was scanned, nothing found); 1 hits found (the report "
        "lists them); 2 nothing scanned, so no verdict: the lake has no raw/ folder or no personal values to look "
        "for, the key file cannot be read, the database is missing, unreadable or holds no text column, or a "
        "folder does not exist (one line on stderr says which). A scan that found nothing to scan is never "
        "reported clean.",
    )
    p.add_argument("--lake", type=Path, default=None, help="the raw zone to take canaries from (default: lake/)")
    p.add_argument("--db", type=Path, default=None, help="the DuckDB build (default: build/taglake.duckdb)")
    p.add_argument(
        "--folder",
        type=Path,
        action="append",
        default=None,
        help="a folder of files to scan (repeatable; default: dbt's target/ and logs/)",
    )
    p.add_argument("--key-file", type=Path, default=None, help="the masking key file (default: .secrets/…)")


KEYS_DESCRIPTION = """\
The local target's masking key: a one-row file outside git (TAGLAKE_KEY_FILE, default .secrets/masking_keys.csv;
key_version,k_inner,k_outer, two 256-bit random parts), readable by its owner only. dbt joins it at masking time,
so it is never in SQL text, logs or artifacts, and no taglake command ever prints it.

  init    make the first key (version 1), the only way a key comes to exist: builds refuse to run without
          one rather than make one (`make demo` and `taglake demo` run `init --if-missing` and say so). init
          never replaces a key (--if-missing: check and keep an existing one).
  status  the key's version and fingerprint, checked (never the key itself), and the version each local build
          records in its key_state table.
  rotate  the system account's rotation that keeps history (--as-system): a new key (version + 1); every token
          in every table of the local builds (snapshots, incremental facts, base models, history marts) is
          re-keyed in one DuckDB transaction per build, through a map from each raw clear value's old token to
          its new one; key_state records the new key; only then does the new key replace the old key file
          (atomically). A failure leaves the old key and the old tables; run it again to finish an interrupted
          rotation.

Every build checks the key first (taglake before dbt, and dbt's on-run-start hook): a missing, truncated,
malformed or group/world-readable key file, or a key other than the one the tables were built with, stops it with
one line naming the file and the fix. Athena and Redshift: docs/privacy.md, section 3."""


def _add_check_lake(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check-lake",
        help="pre-flight check of the local raw zone: every file readable, partitioned and typed as declared",
        description="Read every raw file's frame before dbt does and name what a build would trip on, one line "
        "per problem naming the file (never a value): partitions that are no date (month=13, day=32, year=abcd), "
        "outside the catalog's partition years or in the future; files that cannot be read (permissions), are "
        "not UTF-8, or are truncated Parquet; a CSV header or a Parquet column type that differs from the source "
        "YAML; empty extracts and missing days of the daily feeds. `taglake build`, `run-daily` and `demo` run it "
        "first on the local targets. Exit 1 on any problem. See docs/raw-zone.md (Feed variants).",
    )
    p.add_argument("--lake", type=Path, default=None, help="the lake folder (default: lake/ or TAGLAKE_LAKE_DIR)")


def _add_keys(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keys",
        help="make, check or rotate the local masking key (never prints it)",
        description=KEYS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser(
        "init",
        help="make the first key (version 1); never replaces one",
        description="Make the local masking key (version 1) with strong randomness, owner-only (0600). Refuses "
        "when a key file is already there: a new key would orphan every token built with the old one.",
    )
    init.add_argument(
        "--if-missing",
        action="store_true",
        help="when a key is already there, check it and keep it (what `make demo` runs)",
    )
    actions.add_parser(
        "status",
        help="the key's version and fingerprint, and the version each local build records",
        description="Check the key file (never printing it) and show its version and keyed fingerprint, and the "
        "key version each local build records in its key_state table.",
    )
    rotate = actions.add_parser(
        "rotate",
        help="the system account's rotation: new key, every persisted token re-keyed, history kept",
        description="Make a new key (version + 1) and re-key every token of every table of the local builds "
        "(the default build and build/taglake_system.duckdb, those that exist) from the raw lake's clear "
        "values, in one transaction per build; then replace the key file. See `taglake keys --help`.",
    )
    rotate.add_argument(
        "--as-system",
        action="store_true",
        help="required: the explicit act of the system account (the rotation reads the raw lake's clear values)",
    )
    rotate.add_argument(
        "--db",
        type=Path,
        action="append",
        default=None,
        help="a local build to re-key (repeatable; default: every local build that exists)",
    )


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks: the cost of masking, and of a daily run at scale",
        description="masking: each masking treatment's throughput on DuckDB, and the full build's wall time with "
        "masking against an identity treatment built into a throwaway database. daily: for each --lake, the full "
        "build, then one appended day (the lake gains it) and the incremental build, with wall time and peak "
        "memory, against the goals (full ≤ 5 min, one day ≤ 5 % of full, 365 vs 30 days of history ≤ 1.3×). "
        "See docs/benchmarks.md.",
    )
    p.add_argument("what", choices=["masking", "daily"], help="the benchmark to run")
    p.add_argument(
        "--lake",
        type=Path,
        action="append",
        default=None,
        help="the lake to build (default: lake/); daily takes it more than once (e.g. 30 and 365 days)",
    )
    p.add_argument("--work-dir", type=Path, default=None, help="daily: where the builds go (default: bench/work)")
    p.add_argument("--rows", type=int, default=5_000_000, help="rows per treatment throughput run")
    p.add_argument("--runs", type=int, default=3, help="throughput runs (the median is reported)")
    p.add_argument("--build-runs", type=int, default=1, help="full builds of each kind (median reported)")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default: bench/results/<what>.json)")


def _add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="compile every node for Athena and Redshift offline, parse it in each dialect, check conformance",
        description="Compile every model, test, snapshot and analysis for the AWS targets with no AWS account and "
        "no network, parse each compiled node with sqlglot and sqlfluff in its engine's dialect, then (when a local "
        "build exists) run each engine's SQL for every mart and its upstream models on the local lake and compare "
        "with the local build. Exit 1 on any failure. See docs/verification.md.",
    )
    p.add_argument(
        "--target",
        action="append",
        choices=sorted(AWS_TARGETS),
        default=None,
        help="an AWS target to verify (repeatable; default: athena and redshift)",
    )
    p.add_argument("--no-conformance", action="store_true", help="compile and parse only")
    p.add_argument(
        "--artifacts", type=Path, default=None, help="where the compiled projects go (default: build/verify)"
    )


def _add_aws(p: argparse.ArgumentParser) -> None:
    p.add_argument("--region", default=None, help="AWS region (default: TAGLAKE_AWS_REGION, else the AWS chain's)")
    p.add_argument("--endpoint-url", default=None, help="another endpoint, e.g. moto_server on 127.0.0.1 for tests")


def _add_catalog(sub: argparse._SubParsersAction) -> None:
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
    _add_aws(p)


def _add_upload(sub: argparse._SubParsersAction) -> None:
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
    _add_aws(p)


def _add_lake_formation(sub: argparse._SubParsersAction) -> None:
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
    _add_aws(p)


def _add_query(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "query",
        help="run an analysis or ad hoc SQL on a target; print a table or write CSV",
        description="Run analyses/NAME.sql (compiled by dbt for the target) or one ad hoc read-only query (--sql, "
        "--file; its only Jinja may be {{ ref('<mart or reference model>') }}) against a target. Outside the system "
        "targets only the marts and reference relations are reachable: locally the query runs on a locked, "
        "read-only copy of them beside the build (no files, URLs, extensions, ATTACH, COPY or SET); on Athena it "
        "must be one query over <schema>_marts and <schema>_reference, run in the workgroup, which also prints the "
        "data scanned and its cost. SQL that names the vault runs only on the system account's targets (*_system), "
        "which need the system identity (TAGLAKE_SYSTEM_IDENTITY). See docs/privacy.md.",
    )
    p.add_argument("analysis", nargs="?", default=None, help="an analysis under analyses/, without .sql")
    p.add_argument("--sql", default=None, help="ad hoc SQL")
    p.add_argument("--file", type=Path, default=None, help="a file of ad hoc SQL")
    p.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    p.add_argument("--limit", type=_non_negative_int, default=50, help="rows to print (default: 50; --csv writes all)")
    p.add_argument("--csv", type=Path, default=None, help="write every row to this CSV file instead of printing")
    p.add_argument(
        "--db",
        type=Path,
        default=None,
        help="local targets: the DuckDB build whose marts and reference relations are read",
    )
    p.add_argument("--workgroup", default=None, help="Athena workgroup (default: TAGLAKE_ATHENA_WORK_GROUP)")
    p.add_argument(
        "--output-location", default=None, help="Athena result location (default: TAGLAKE_ATHENA_S3_STAGING_DIR)"
    )
    p.add_argument(
        "--usd-per-tb", type=_non_negative_float, default=5.0, help="Athena price per TB scanned (default: 5)"
    )
    _add_aws(p)


def _add_system_identity(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "system-identity",
        help="make or check the local system identity the *_system targets need",
        description="The system targets (local_system, athena_system, redshift_system) run only for the system "
        "identity, never for a target name alone. Locally: `init` makes a system credential file, owner-only "
        "(0600), and the system account sets TAGLAKE_SYSTEM_IDENTITY to its path; every command on a system target "
        "checks it (exists, owner, mode, format). On AWS, TAGLAKE_SYSTEM_IDENTITY is the system role's ARN and the "
        "session must be that role's. See docs/privacy.md.",
    )
    p.add_argument(
        "action", choices=["init", "check"], help="init: make the file; check: check TAGLAKE_SYSTEM_IDENTITY"
    )
    p.add_argument("--file", type=Path, default=None, help="init: where (default: .secrets/system_identity.json)")
    p.add_argument(
        "--target", default="local_system", help="check: the system target to check for (default: local_system)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="taglake",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"taglake {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_generate(sub)
    _add_build(sub)
    _add_run_daily(sub)
    _add_demo(sub)
    _add_dbt(sub)
    _add_scan(sub)
    _add_check_lake(sub)
    _add_keys(sub)
    _add_bench(sub)
    _add_catalog(sub)
    _add_upload(sub)
    _add_query(sub)
    _add_verify(sub)
    _add_lake_formation(sub)
    _add_system_identity(sub)
    return parser


def _strip_separator(args: Sequence[str]) -> list[str]:
    return list(args[1:]) if args and args[0] == "--" else list(args)


def _is_local(target: str | None) -> bool:
    import os

    return (target or os.environ.get("TAGLAKE_TARGET") or "local").startswith("local")


def preflight(project: Project, target: str | None) -> None:
    """Before a local build: the key first (KeyFileError / KeyStateError: nothing is read without a sound key),
    then the pre-flight check of the local lake (LakeCheckError on any problem)."""
    from taglake.dbt import prepare_local
    from taglake.lake.preflight import require_clean_lake

    if _is_local(target):
        prepare_local(project, target, ["build"])
        require_clean_lake(project.lake_dir, project_dir=project.root)


def cmd_check_lake(ns: argparse.Namespace, project: Project) -> int:
    from taglake.lake.preflight import LakeCheckError, require_clean_lake

    lake = (ns.lake or project.lake_dir).resolve()
    try:
        require_clean_lake(lake, project_dir=project.root)
    except LakeCheckError as exc:
        _print_lake_problems(exc)
        return 1
    print(f"lake ok: every raw file under {lake / 'raw'} is readable, partitioned and typed as declared")
    return 0


def _print_lake_problems(exc: LakeCheckError) -> None:
    problems = exc.problems
    for problem in problems:
        print(f"taglake: check-lake: {problem}", file=sys.stderr)
    print(f"taglake: the lake has {len(problems)} problem(s); nothing was built", file=sys.stderr)


def cmd_generate(ns: argparse.Namespace, project: Project) -> int:
    from taglake.generate import append_days, generate_lake

    out = (ns.out or project.lake_dir).resolve()
    if ns.append_days is not None:
        manifest = append_days(out, count=ns.append_days, progress=not ns.no_progress)
    else:
        manifest = generate_lake(
            out,
            scale=ns.scale,
            customers=ns.customers,
            days=ns.days,
            seed=ns.seed,
            end_date=ns.end_date,
            defect_rate=ns.defect_rate,
            progress=not ns.no_progress,
        )
    rows = [
        (
            table,
            info["files"],
            info["rows"],
            info["expected"]["accepted"],
            info["expected"]["collapsed"],
            info["expected"]["quarantined"],
        )
        for table, info in manifest["tables"].items()
    ]
    last = manifest["params"]["last_date"]
    print(f"lake written to {out}, last landing day {last} (every defect counted in manifest.json)")
    print(format_table(["table", "files", "rows", "accepted", "collapsed", "quarantined"], rows))
    return 0


def cmd_run_daily(ns: argparse.Namespace, project: Project) -> int:
    from taglake.daily import run_daily
    from taglake.generate import append_days

    if ns.append_day:
        manifest = append_days(project.lake_dir, progress=False)
        print(f"appended landing day {manifest['params']['last_date']} to {project.lake_dir}")
    preflight(project, ns.target)
    result = run_daily(
        project,
        target=ns.target,
        allow_stale=ns.allow_stale,
        scan=not ns.no_scan,
        build_args=_strip_separator(ns.dbt_args),
    )
    print(format_table(["step", "status", "seconds", "detail"], result.rows()))
    for step in result.steps:
        if step.report:
            print(step.report, end="")
    print("daily run ok" if result.ok else "daily run FAILED", file=sys.stdout if result.ok else sys.stderr)
    return 0 if result.ok else 1


def cmd_demo(project: Project) -> int:
    from taglake import local_build
    from taglake.generate import generate_lake
    from taglake.keys import init_key

    if not (project.lake_dir / "manifest.json").is_file():
        print(f"generating the small lake in {project.lake_dir} …")
        generate_lake(project.lake_dir, progress=sys.stderr.isatty())
    key, made = init_key(project.key_file, if_missing=True)  # the demo's explicit `taglake keys init --if-missing`
    if made:
        print(f"made masking key version {key.key_version} in {project.key_file} (taglake keys init; never printed)")
    preflight(project, "local")
    build(project, target="local")
    print("\nWhat landed, and what staging did with it:")
    print(format_table(*local_build.intake_summary(project)))
    print("\nTables built:")
    print(format_table(*local_build.mart_row_counts(project)))
    sql = local_build.compile_analysis(project, DEMO_ANALYSIS)
    print(f"\nSample query (analyses/{DEMO_ANALYSIS}.sql):")
    print(format_table(*local_build.run_sql(project, sql)))
    from taglake.scan import EXIT_HITS, EXIT_NOTHING_SCANNED, NothingToScan, format_report, scan

    print("\nLeak scan of the build, target/ and logs/:")
    try:
        hits = scan(
            project.lake_dir,
            db_path=project.duckdb_path,
            folders=[p for p in (project.target_path, project.log_path) if p.is_dir()],
            key_file=project.key_file,
        )
    except NothingToScan as exc:
        print(f"taglake: scan-pii: {exc} (not scanned, not clean)", file=sys.stderr)
        return EXIT_NOTHING_SCANNED
    print(format_report(hits), end="")
    return EXIT_HITS if hits else 0


def cmd_scan(ns: argparse.Namespace, project: Project) -> int:
    """Exit EXIT_CLEAN, EXIT_HITS, or EXIT_NOTHING_SCANNED with one line when there was nothing (or not everything
    asked for) to scan: never "clean" for a scan that looked at nothing."""
    from taglake.scan import (
        EXIT_CLEAN,
        EXIT_HITS,
        EXIT_NOTHING_SCANNED,
        CanaryReadError,
        NothingToScan,
        ScanError,
        format_report,
        scan,
    )

    db = ns.db or project.duckdb_path
    if ns.folder:
        folders = ns.folder
    else:
        folders = [p for p in (project.target_path, project.log_path) if p.is_dir()]
        if not folders:
            folders = [project.target_path]  # refused below: a build always leaves dbt's target/
    try:
        hits = scan(ns.lake or project.lake_dir, db_path=db, folders=folders, key_file=ns.key_file or project.key_file)
    except (NothingToScan, CanaryReadError, ScanError) as exc:
        print(f"taglake: scan-pii: {exc} (not scanned, not clean)", file=sys.stderr)
        return EXIT_NOTHING_SCANNED
    print(format_report(hits), end="")
    return EXIT_HITS if hits else EXIT_CLEAN


def cmd_keys(ns: argparse.Namespace, project: Project) -> int:
    from taglake.keys import check_key_file, init_key
    from taglake.privacy.key_state import recorded_key_state
    from taglake.privacy.rotation import default_databases, rotate

    if ns.action == "init":
        key, made = init_key(project.key_file, if_missing=ns.if_missing)
        verb = "made" if made else "kept the existing"
        print(f"{verb} masking key version {key.key_version} in {project.key_file} (owner-only; never printed)")
        return 0
    if ns.action == "rotate":
        result = rotate(project, as_system=ns.as_system, databases=ns.db)
        print(
            f"rotated the masking key from version {result.old_version} to {result.new_version} in "
            f"{project.key_file}; re-keyed {sum(result.rewritten.values()):,} token values in "
            f"{len(result.rewritten):,} columns of {len(result.databases)} local build(s)"
        )
        return 0
    key = check_key_file(project.key_file)
    print(f"masking key version {key.key_version} in {project.key_file}, fingerprint {key.fingerprint()[:16]}")
    for db in default_databases(project):
        state = recorded_key_state(db)
        recorded = "no key recorded" if state is None else f"built with key version {state.key_version}"
        same = state is not None and state.key_fingerprint == key.fingerprint()
        print(f"  {db}: {recorded}{' (this key)' if same else ''}")
    return 0


def cmd_bench(ns: argparse.Namespace, project: Project) -> int:
    lakes = [lake.resolve() for lake in (ns.lake or [project.lake_dir])]
    out = ns.out or project.root / "bench" / "results" / f"{ns.what}.json"
    if ns.what == "daily":
        from taglake.bench_daily import format_daily_report, run_daily_benchmark

        work = (ns.work_dir or project.root / "bench" / "work").resolve()
        print(format_daily_report(run_daily_benchmark(project, lakes=lakes, work_dir=work, out_json=out)))
        return 0
    from taglake.bench import format_masking_report, run_masking_benchmark

    if len(lakes) != 1:
        raise ValueError("bench masking takes one --lake")
    result = run_masking_benchmark(
        project, lake_dir=lakes[0], rows=ns.rows, runs=ns.runs, build_runs=ns.build_runs, out_json=out
    )
    print(format_masking_report(result))
    return 0


def _database_names(pairs: Sequence[str]) -> dict[str, str]:
    names = {}
    for pair in pairs:
        schema, sep, name = pair.partition("=")
        if not sep or not schema or not name:
            raise ValueError(f"--database takes SCHEMA=NAME, not {pair!r}")
        names[schema] = name
    return names


def cmd_catalog(ns: argparse.Namespace) -> int:
    import json
    import os

    from taglake.glue_catalog import glue_client, plan_catalog, sync_catalog

    plan = plan_catalog(
        bucket=ns.bucket, prefix=ns.prefix, keys_location=ns.keys_location, database_names=_database_names(ns.database)
    )
    if ns.dry_run:
        print(json.dumps({"databases": plan.databases, "tables": plan.tables}, indent=2, ensure_ascii=False))
        return 0
    glue = glue_client(region=ns.region or os.environ.get("TAGLAKE_AWS_REGION"), endpoint_url=ns.endpoint_url)
    print(format_table(["database or table", "result"], sync_catalog(glue, plan)))
    return 0


def cmd_lake_formation(ns: argparse.Namespace, project: Project) -> int:
    import json
    import os

    from taglake.aws import lake_formation as lf
    from taglake.aws.access import load_access
    from taglake.sources import catalog_tables

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


def cmd_upload(ns: argparse.Namespace, project: Project) -> int:
    import os

    from taglake.s3_upload import print_progress, s3_client, upload_lake

    s3 = s3_client(region=ns.region or os.environ.get("TAGLAKE_AWS_REGION"), endpoint_url=ns.endpoint_url)
    lake = (ns.lake_dir or project.lake_dir).resolve()
    report = upload_lake(s3, lake, ns.bucket, ns.prefix, progress=print_progress)
    print(
        f"uploaded {len(report.uploaded):,} files ({report.bytes_uploaded:,} bytes) to s3://{ns.bucket}/"
        f"{ns.prefix.strip('/')}; {len(report.skipped):,} already there"
    )
    return 0


def cmd_query(ns: argparse.Namespace, project: Project, target: str) -> int:
    from taglake import query

    sql = query.resolve_sql(project, target, analysis=ns.analysis, sql=ns.sql, sql_file=ns.file)
    connection = None
    if query.engine_of(target) == "athena":
        athena = query.athena_settings(
            target, region=ns.region, workgroup=ns.workgroup, output_location=ns.output_location
        )
        connection = query.athena_connection(athena, endpoint_url=ns.endpoint_url)
    result = query.run_query(project, target, sql, db_path=ns.db, connection=connection)
    if ns.csv:
        query.write_csv(result, ns.csv)
        print(f"wrote {len(result.rows):,} rows to {ns.csv}")
    else:
        print(query.format_result(result, ns.limit))
    if result.scanned_bytes is not None:
        print(query.scan_summary(result.scanned_bytes, ns.usd_per_tb))
    return 0


def cmd_dbt(args: list[str], project: Project, target: str) -> int:
    """dbt with this checkout's profile, on the target the policy was checked for (taglake.ops.dbt_guard)."""
    return run_dbt(project, args, target=target, check=False)


def cmd_system_identity(ns: argparse.Namespace, project: Project) -> int:
    from taglake.privacy import system_identity

    if ns.action == "init":
        path = (ns.file or project.root / system_identity.DEFAULT_FILE).resolve()
        made = system_identity.create_identity_file(path)
        print(f"system identity {made.identity_id} for {made.principal} written to {path} (owner-only, 0600)")
        print(f"to act as the system account: export {system_identity.ENV}={path}")
        return 0
    checked = system_identity.require_system_identity(ns.target)
    if checked is None:
        print(f"{ns.target} is not a system target: it needs no system identity")
    else:
        print(f"system identity {checked.identity_id} of {checked.principal}: valid for {ns.target}")
    return 0


def cmd_verify(ns: argparse.Namespace, project: Project) -> int:
    """Verify, print the report, exit 0 only when everything holds."""
    artifacts = (ns.artifacts or project.root / "build" / "verify").resolve()
    targets = ns.target or verify.DEFAULT_TARGETS
    result = verify.verify(project, targets, artifacts_dir=artifacts, conformance=not ns.no_conformance)
    print(verify.report(result))
    return 0 if result.ok else 1


def _target_of(ns: argparse.Namespace) -> str | None:
    """The dbt target a command runs on (None for commands that run on none), as dbt itself will resolve it:
    dbt arguments passed on (`-- --target X`) win over --target, which wins over DBT_TARGET/TAGLAKE_TARGET."""
    from taglake.ops.dbt_guard import effective_target

    if ns.command == "dbt":
        return effective_target(_strip_separator(ns.dbt_args), os.environ)
    if ns.command in ("build", "run-daily"):
        return effective_target(_strip_separator(ns.dbt_args), os.environ, default=ns.target)
    if ns.command == "query":
        return ns.target or os.environ.get("TAGLAKE_TARGET") or "local"
    if ns.command == "demo":
        return "local"
    return None


class TargetRefused(Refused):
    """The target is not one of profiles.yml's outputs."""


def project_targets(project: Project) -> list[str]:
    """The outputs of the checkout's profiles.yml."""
    import yaml

    profiles = yaml.safe_load((project.root / "profiles.yml").read_text(encoding="utf-8"))
    return list(profiles["taglake"]["outputs"])


def _check_target(ns: argparse.Namespace, project: Project, target: str | None) -> None:
    """Before anything runs: a system target needs the system identity; dbt arguments pass the passthrough
    policy outside the system targets."""
    from taglake.ops.dbt_guard import check_dbt_args
    from taglake.privacy.system_identity import require_system_identity

    if target is None:
        return
    if target not in project_targets(project):
        raise TargetRefused(
            f"unknown target: use one of {', '.join(project_targets(project))} (profiles.yml, docs/deployment.md)"
        )
    require_system_identity(target)
    if ns.command == "dbt":
        check_dbt_args(_strip_separator(ns.dbt_args), target, os.environ)
    elif ns.command in ("build", "run-daily"):
        check_dbt_args(["build", *_strip_separator(ns.dbt_args)], target, os.environ)


def _dispatch(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    if ns.command == "generate":
        return cmd_generate(ns, project)
    if ns.command == "build":
        preflight(project, target)
        build(project, target=target, extra=_strip_separator(ns.dbt_args))
        return 0
    if ns.command == "run-daily":
        ns.target = target
        return cmd_run_daily(ns, project)
    if ns.command == "demo":
        return cmd_demo(project)
    if ns.command == "dbt":
        return cmd_dbt(_strip_separator(ns.dbt_args), project, str(target))
    if ns.command == "scan-pii":
        return cmd_scan(ns, project)
    if ns.command == "check-lake":
        return cmd_check_lake(ns, project)
    if ns.command == "keys":
        return cmd_keys(ns, project)
    if ns.command == "bench":
        return cmd_bench(ns, project)
    if ns.command == "catalog":
        return cmd_catalog(ns)
    if ns.command == "upload":
        return cmd_upload(ns, project)
    if ns.command == "query":
        return cmd_query(ns, project, str(target))
    if ns.command == "verify":
        return cmd_verify(ns, project)
    if ns.command == "lake-formation":
        return cmd_lake_formation(ns, project)
    if ns.command == "system-identity":
        return cmd_system_identity(ns, project)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Every error ends here: one line on stderr (taglake.core.errors: the project's own message,
    or for an engine's or a library's error its class and what to check, never its text), a non-zero exit code
    (2: refused or bad arguments, 1: failed) and no traceback (TAGLAKE_DEBUG=1 adds where, never values)."""
    command = None
    try:
        ns = build_parser().parse_args(argv)
        command = ns.command
        project = Project.locate()
        target = _target_of(ns)
        _check_target(ns, project, target)
        return _dispatch(ns, project, target)
    except SystemExit as exc:  # argparse: --help, --version, or a bad argument already reported in one line
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        print("taglake: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from taglake.lake.preflight import LakeCheckError

        if isinstance(exc, LakeCheckError):  # the pre-flight's problems: one line each, naming the file
            _print_lake_problems(exc)
            return 1
        argv = list(sys.argv[1:] if argv is None else argv)
        return report(exc, command, argv=argv, debug=os.environ.get(DEBUG_ENV, "") not in ("", "0"))


if __name__ == "__main__":
    sys.exit(main())
