"""`taglake scan-pii`: the leak scan of a local build and its files (taglake.privacy.scan), and with --target of the
tables a build wrote on Athena or Redshift, scanned in the engine (taglake.privacy.scan.engines) over `taglake query`'s
connection to the target (taglake.ops.query, query_redshift: one connection code, its settings, its read-only
transaction and its error messages). Registered here rather than under privacy/ because of that connection: privacy
sits below ops in the layering (docs/architecture.md)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from taglake.core.cli_args import Subparsers
from taglake.core.project import Project
from taglake.privacy.scan.engines import EngineScanError, Hit, Runner


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "scan-pii",
        help="search a build and its artifacts for clear personal data and key material",
        description="Take every clear value of the raw zone (national IDs, mobiles, e-mails, names) and the masking "
        "key as canaries, and search the local build (every text column of every relation) and the files under "
        "dbt's target/ and logs/ for them. With --target athena or redshift (or their *_system targets), scan the "
        "tables the build wrote there instead, IN the engine: every text column of every relation of the build's "
        "manifest in the layers the pipeline builds (vars.access; never the vault) is matched against the raw "
        "zone's own tables and the key relation, and only counts come back; no value is ever sent in SQL or "
        "returned (docs/privacy.md). Exit 1 with a report of every hit; the report never shows a value.",
        epilog="exit status: 0 clean (everything asked for was scanned, nothing found); 1 hits found (the report "
        "lists them); 2 nothing scanned, so no verdict: the lake has no raw/ folder or no personal values to look "
        "for, the key file cannot be read, the database is missing, unreadable or holds no text column, or a "
        "folder does not exist, or (--target) the manifest is missing or a relation it names is not on the engine, "
        "or the engine could not be reached (one line on stderr says which). A scan that found nothing to scan is "
        "never reported clean.",
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
    p.add_argument(
        "--target",
        default=None,
        help="athena or redshift (or a *_system target): scan the build's tables there, in the engine (settings as "
        "`taglake query`'s); default: the local build and files",
    )
    p.add_argument(
        "--manifest",
        type=Path,
        default=None,
        help="with --target: the build's manifest, whose relations are scanned (default: dbt's target/manifest.json)",
    )
    p.set_defaults(func=cmd_scan, target_of=_scan_target)


def _scan_target(ns: argparse.Namespace) -> str | None:
    from taglake.core import targets

    return targets.resolve(ns.target) if ns.target else None


def cmd_scan(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    """Exit EXIT_CLEAN, EXIT_HITS, or EXIT_NOTHING_SCANNED with one line when there was nothing (or not everything
    asked for) to scan: never "clean" for a scan that looked at nothing."""
    from taglake.privacy.scan.scanner import (
        EXIT_CLEAN,
        EXIT_HITS,
        EXIT_NOTHING_SCANNED,
        CanaryReadError,
        NothingToScan,
        ScanError,
        default_folders,
        format_report,
        scan,
    )

    if target is not None:
        return _scan_engine(ns, project, target)
    db = ns.db or project.duckdb_path
    if ns.folder:
        folders = ns.folder
    else:
        folders = default_folders(project)
        if not folders:
            folders = [project.target_path]  # refused below: a build always leaves dbt's target/
    try:
        hits = scan(ns.lake or project.lake_dir, db_path=db, folders=folders, key_file=ns.key_file or project.key_file)
    except (NothingToScan, CanaryReadError, ScanError) as exc:
        print(f"taglake: scan-pii: {exc} (not scanned, not clean)", file=sys.stderr)
        return EXIT_NOTHING_SCANNED
    print(format_report(hits), end="")
    return EXIT_HITS if hits else EXIT_CLEAN


def connect_runner(project: Project, target: str, engine: str) -> tuple[Runner, Callable[[], None]]:
    """(run, close) on the target with `taglake query`'s connection code: its settings from profiles.yml and the
    TAGLAKE_* variables, its read-only transaction, its error messages."""
    if engine == "athena":
        from taglake.ops.query import athena_connection, athena_settings, run_athena

        try:
            athena = athena_connection(athena_settings(target))
        except Exception as exc:  # botocore's text can name the account and role: its class only
            raise EngineScanError(
                f"cannot connect to Athena ({type(exc).__name__}): check TAGLAKE_AWS_REGION, "
                "TAGLAKE_ATHENA_WORK_GROUP, TAGLAKE_ATHENA_S3_STAGING_DIR and the credentials"
            ) from None
        return (lambda sql: run_athena(athena, sql).rows), athena.close
    from taglake.ops import query_redshift

    redshift = query_redshift.connect(query_redshift.redshift_settings(project, target))
    return (lambda sql: query_redshift.run_redshift(redshift, sql)[1]), redshift.close


def scan_on_target(
    project: Project, target: str, engine: str, manifest_path: Path, *, sent: list[str] | None = None
) -> list[Hit]:
    """The build of `manifest_path` scanned on the target's engine (taglake.privacy.scan.engines.scan_build), over
    one connection to it."""
    from taglake.privacy.scan.engines import check_manifest, scan_build

    check_manifest(manifest_path)  # before connecting
    run, close = connect_runner(project, target, engine)
    try:
        return scan_build(project.root, engine, manifest_path, run, sent=sent)
    finally:
        close()


def _scan_engine(ns: argparse.Namespace, project: Project, target: str) -> int:
    """scan-pii --target: the build's tables on Athena or Redshift, scanned in the engine."""
    from taglake.core.errors import TaglakeError
    from taglake.core.targets import engine_of
    from taglake.ops.sql_policy import QueryRefused
    from taglake.privacy.access_policy import AccessError
    from taglake.privacy.scan.engines import ENGINES
    from taglake.privacy.scan.scanner import EXIT_CLEAN, EXIT_HITS, EXIT_NOTHING_SCANNED, format_report

    engine = engine_of(target)
    try:
        if engine not in ENGINES:
            raise EngineScanError(
                f"--target {target} is a local target: scan-pii without --target scans the local build"
            )
        hits = scan_on_target(project, target, engine, ns.manifest or project.target_path / "manifest.json")
    except (EngineScanError, TaglakeError, QueryRefused, AccessError) as exc:
        print(f"taglake: scan-pii: {exc} (not scanned, not clean)", file=sys.stderr)
        return EXIT_NOTHING_SCANNED
    print(format_report(hits, fingerprints=False), end="")
    return EXIT_HITS if hits else EXIT_CLEAN
