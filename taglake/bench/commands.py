"""`taglake bench`: the masking benchmark and the daily-run benchmark (docs/benchmarks.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from taglake.core.cli_args import Subparsers
from taglake.core.project import Project


def register(sub: Subparsers) -> None:
    _add_bench(sub)


def _add_bench(sub: Subparsers) -> None:
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
    p.set_defaults(func=cmd_bench)


def cmd_bench(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    lakes = [lake.resolve() for lake in (ns.lake or [project.lake_dir])]
    out = ns.out or project.root / "bench" / "results" / f"{ns.what}.json"
    if ns.what == "daily":
        from taglake.bench.daily import format_daily_report, run_daily_benchmark

        work = (ns.work_dir or project.root / "bench" / "work").resolve()
        print(format_daily_report(run_daily_benchmark(project, lakes=lakes, work_dir=work, out_json=out)))
        return 0
    from taglake.bench.masking import format_masking_report, run_masking_benchmark

    if len(lakes) != 1:
        raise ValueError("bench masking takes one --lake")
    result = run_masking_benchmark(
        project, lake_dir=lakes[0], rows=ns.rows, runs=ns.runs, build_runs=ns.build_runs, out_json=out
    )
    print(format_masking_report(result))
    return 0
