"""The `taglake` command: generate the synthetic lake, build it with dbt, and look at the result.

Every subcommand is a thin layer over a function the tests call directly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from taglake import __version__
from taglake.dbt import DbtError, build, run_dbt
from taglake.project import Project
from taglake.tables import format_table

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

examples:
  taglake generate --scale medium --seed 7
  taglake scan-pii
  taglake build
  taglake generate --append-day && taglake run-daily
  taglake dbt source freshness
  taglake dbt build --select staging"""


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
        "record what changed), then `taglake scan-pii` of the local build. Prints each step's status and time; "
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
        description="Install the project's (local) dbt packages, then seed, run and test every node.",
    )
    p.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="more arguments for dbt build, after --")


def _add_demo(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(
        "demo",
        help="generate the small lake, build it on DuckDB, print a summary, a sample query and a leak scan",
        description="The main job on a laptop: generate the default lake (unless one is there), dbt build on "
        "the local target, then print what landed, what staging accepted and quarantined, the tables built, "
        f"the result of analyses/{DEMO_ANALYSIS}.sql, and the leak scan of the build (exit 1 on any hit).",
    )


def _add_dbt(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dbt",
        help="run any dbt command with this checkout's profiles.yml",
        description="Run dbt in the project folder with DBT_PROFILES_DIR pointing at the repo's profiles.yml.",
    )
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="the dbt command and its arguments")


def _add_scan(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan-pii",
        help="search a build and its artifacts for clear personal data and key material",
        description="Take every clear value of the raw zone (national IDs, mobiles, e-mails, names) and the masking "
        "key as canaries, and search the local build (every text column of every relation) and the files under "
        "dbt's target/ and logs/ for them. Exit 1 with a report of every hit; the report never shows a value.",
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


def _add_keys(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keys",
        help="make or rotate the local masking key (never prints it)",
        description="The local target's masking key lives in a file outside git (TAGLAKE_KEY_FILE, default "
        ".secrets/masking_keys.csv), made with strong randomness on first use. See docs/privacy.md.",
    )
    p.add_argument(
        "action",
        choices=["init", "rotate", "status"],
        help="init: make if missing; rotate: new "
        "version (every token changes: rebuild with --full-refresh); status: show the version",
    )


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks: the cost of masking",
        description="Measure each masking treatment's throughput on DuckDB, and the full build's wall time with "
        "masking against an identity treatment built into a throwaway database. See docs/benchmarks.md.",
    )
    p.add_argument("what", choices=["masking"], help="the benchmark to run")
    p.add_argument("--lake", type=Path, default=None, help="the lake to build (default: lake/)")
    p.add_argument("--rows", type=int, default=5_000_000, help="rows per treatment throughput run")
    p.add_argument("--runs", type=int, default=3, help="throughput runs (the median is reported)")
    p.add_argument("--build-runs", type=int, default=1, help="full builds of each kind (median reported)")
    p.add_argument("--out", type=Path, default=None, help="JSON results (default: bench/results/masking.json)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    _add_keys(sub)
    _add_bench(sub)
    return parser


def _strip_separator(args: Sequence[str]) -> list[str]:
    return list(args[1:]) if args and args[0] == "--" else list(args)


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

    if not (project.lake_dir / "manifest.json").is_file():
        print(f"generating the small lake in {project.lake_dir} …")
        generate_lake(project.lake_dir, progress=sys.stderr.isatty())
    build(project, target="local")
    print("\nWhat landed, and what staging did with it:")
    print(format_table(*local_build.intake_summary(project)))
    print("\nTables built:")
    print(format_table(*local_build.mart_row_counts(project)))
    sql = local_build.compile_analysis(project, DEMO_ANALYSIS)
    print(f"\nSample query (analyses/{DEMO_ANALYSIS}.sql):")
    print(format_table(*local_build.run_sql(project, sql)))
    from taglake.scan import format_report, scan

    hits = scan(
        project.lake_dir,
        db_path=project.duckdb_path,
        folders=[p for p in (project.target_path, project.log_path) if p.is_dir()],
        key_file=project.key_file,
    )
    print("\nLeak scan of the build, target/ and logs/:")
    print(format_report(hits), end="")
    return 1 if hits else 0


def cmd_scan(ns: argparse.Namespace, project: Project) -> int:
    from taglake.scan import format_report, scan

    db = ns.db or project.duckdb_path
    if not db.is_file():
        raise FileNotFoundError(f"no build at {db}: run `taglake build` first")
    folders = ns.folder or [p for p in (project.target_path, project.log_path) if p.is_dir()]
    hits = scan(ns.lake or project.lake_dir, db_path=db, folders=folders, key_file=ns.key_file or project.key_file)
    print(format_report(hits), end="")
    return 1 if hits else 0


def cmd_keys(ns: argparse.Namespace, project: Project) -> int:
    from taglake.keys import ensure_key, read_key, rotate_key

    if ns.action == "init":
        key = ensure_key(project.key_file)
    elif ns.action == "rotate":
        key = rotate_key(project.key_file)
        print("rotated: every token changes; rebuild with `taglake build -- --full-refresh`")
    else:
        key = read_key(project.key_file)
    print(f"masking key version {key.key_version} in {project.key_file}")
    return 0


def cmd_bench(ns: argparse.Namespace, project: Project) -> int:
    from taglake.bench import format_masking_report, run_masking_benchmark

    result = run_masking_benchmark(
        project,
        lake_dir=(ns.lake or project.lake_dir).resolve(),
        rows=ns.rows,
        runs=ns.runs,
        build_runs=ns.build_runs,
        out_json=ns.out or project.root / "bench" / "results" / "masking.json",
    )
    print(format_masking_report(result))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    project = Project.locate()
    try:
        if ns.command == "generate":
            return cmd_generate(ns, project)
        if ns.command == "build":
            build(project, target=ns.target, extra=_strip_separator(ns.dbt_args))
            return 0
        if ns.command == "run-daily":
            return cmd_run_daily(ns, project)
        if ns.command == "demo":
            return cmd_demo(project)
        if ns.command == "dbt":
            return run_dbt(project, _strip_separator(ns.dbt_args), check=False)
        if ns.command == "scan-pii":
            return cmd_scan(ns, project)
        if ns.command == "keys":
            return cmd_keys(ns, project)
        if ns.command == "bench":
            return cmd_bench(ns, project)
    except (DbtError, FileNotFoundError, ValueError, KeyError) as exc:
        print(f"taglake: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
