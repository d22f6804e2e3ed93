"""The raw zone's commands: `taglake generate` and `taglake check-lake`."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from taglake.core.cli_args import Subparsers
from taglake.core.project import Project
from taglake.core.text_tables import format_table

if TYPE_CHECKING:
    from taglake.lake.preflight import LakeCheckError


def register(sub: Subparsers) -> None:
    _add_generate(sub)
    _add_check_lake(sub)


def _add_generate(sub: Subparsers) -> None:
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
        help="small: 2,000 customers, 40 days (default); medium: 100,000, 90; "
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
        "changes, model scores on the 1st of a month and their outcomes a week later; manifest.json updated. The lake's own seed and sizes are "
        "used (the other options are ignored); earlier files are not touched",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_generate)


def _add_check_lake(sub: Subparsers) -> None:
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
    p.set_defaults(func=cmd_check_lake)


def cmd_generate(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.lake.generate import append_days, generate_lake

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


def cmd_check_lake(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.lake.preflight import LakeCheckError, require_clean_lake

    lake = (ns.lake or project.lake_dir).resolve()
    try:
        require_clean_lake(lake, project_dir=project.root)
    except LakeCheckError as exc:
        print_lake_problems(exc)
        return 1
    print(f"lake ok: every raw file under {lake / 'raw'} is readable, partitioned and typed as declared")
    return 0


def print_lake_problems(exc: LakeCheckError) -> None:
    """The pre-flight's problems, one line each on stderr naming the file, then how many."""
    problems = exc.problems
    for problem in problems:
        print(f"taglake: check-lake: {problem}", file=sys.stderr)
    print(f"taglake: the lake has {len(problems)} problem(s); nothing was built", file=sys.stderr)
