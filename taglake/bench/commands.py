"""`taglake bench`: the build, masking, daily-run and retrieval benchmarks and the daily run's Athena cost
(docs/benchmarks.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from taglake.core.cli_args import Subparsers
from taglake.core.project import Project


def register(sub: Subparsers) -> None:
    _add_bench(sub)


def _add_bench(sub: Subparsers) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks: the full build against reading the lake, the cost of masking, of a daily run at scale, and "
        "the tag retrieval API's latency",
        description="build: on a copy of --lake (left as it is), --runs times: the full build, the time to read "
        "every column of every raw file once, one appended day and the incremental run (--days more, one after "
        "another, each with what its window reads: ordinary, or a sparse feed such as the monthly scores landing or "
        "re-read within the lookback), and the full build's own writing statements replayed as a plain DuckDB "
        "script (no dbt, no tests, no guard; its tables compared with the build's; --no-plain leaves it out, "
        "--no-athena the Athena estimate); wall and CPU seconds, peak "
        "memory, the ratios full/read, full/plain script and one-day/full against the goals (≤ 27×, ≤ 1.5×, "
        "≤ 10 %, and the ordinary days' median share), the time before the first node (start-up, parse), and where "
        "the full build's node time goes (creates, tests, guard, other statements, dbt overhead, slowest models) "
        "and how long 2, 1 or no statements ran at once. "
        "masking: each masking treatment's throughput on DuckDB, and the full build's wall time with "
        "masking against an identity treatment built into a throwaway database. daily: for each --lake, the full "
        "build, then one appended day (the lake gains it) and the incremental build, with wall time and peak "
        "memory, against the goals (full ≤ 5 min, one day ≤ 5 % of full, 365 vs 30 days of history ≤ 1.3×). "
        "retrieval: p50/p99 latency of the tag retrieval API over --customers synthetic customers, through the "
        "DuckDB store and the DynamoDB cache (moto, in process), one token and batches (docs/retrieval.md). "
        "athena-cost: the one-day run compiled for Athena offline (no AWS account), per model the partitions and "
        "columns it reads and the bytes Athena would scan at each --scale, from --lake's files and the local build "
        "(--db); queries, USD per run and per month (USD 5/TB, 10 MB minimum a query); build reports it too. "
        "See docs/benchmarks.md.",
    )
    p.add_argument(
        "what", choices=["build", "masking", "daily", "retrieval", "athena-cost"], help="the benchmark to run"
    )
    p.add_argument(
        "--lake",
        type=Path,
        action="append",
        default=None,
        help="the lake to build (default: lake/); daily takes it more than once (e.g. 30 and 365 days)",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="build, daily, athena-cost: where builds and the offline compile go (default: bench/work)",
    )
    p.add_argument("--rows", type=int, default=5_000_000, help="rows per treatment throughput run")
    p.add_argument("--runs", type=int, default=3, help="masking: throughput runs; build: runs (the median is reported)")
    p.add_argument("--build-runs", type=int, default=1, help="full builds of each kind (median reported)")
    p.add_argument(
        "--days",
        type=int,
        default=1,
        help="build: days appended and built one after another after the full build (default 1: the one-day run)",
    )
    p.add_argument("--customers", type=int, default=100_000, help="retrieval: synthetic customers (default 100000)")
    p.add_argument("--lookups", type=int, default=2_000, help="retrieval: single-token requests per path")
    p.add_argument("--batches", type=int, default=100, help="retrieval: batch requests (100 tokens each) per path")
    p.add_argument(
        "--scale",
        action="append",
        choices=["lake", "small", "medium", "large"],
        default=None,
        help="athena-cost, build: the scale(s) the Athena estimate is made at: lake (the lake's own size) or a "
        "`taglake generate --scale` (default: lake and large; a scale the size of one before it is reported once)",
    )
    p.add_argument(
        "--db",
        type=Path,
        default=None,
        help="athena-cost: the local DuckDB build of --lake whose tables are measured (default: the local target's)",
    )
    p.add_argument(
        "--keep",
        action="store_true",
        help="build: leave the last run's folder under --work-dir (its database, lake copy, and each build's dbt "
        "log <build>.dbt.log and output <build>.out) to profile its statements; deleted by default",
    )
    p.add_argument(
        "--no-plain",
        action="store_true",
        help="build: leave out the plain DuckDB script (at the large scale it takes about as long as the build; "
        "its ratio is a goal at the medium scale)",
    )
    p.add_argument(
        "--no-athena", action="store_true", help="build: leave out the Athena estimate (bench athena-cost makes it)"
    )
    p.add_argument("--out", type=Path, default=None, help="JSON results (default: bench/results/<what>.json)")
    p.set_defaults(func=cmd_bench)


def cmd_bench(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    lakes = [lake.resolve() for lake in (ns.lake or [project.lake_dir])]
    for flag, given in (("--keep", ns.keep), ("--no-plain", ns.no_plain), ("--no-athena", ns.no_athena)):
        if given and ns.what != "build":
            raise ValueError(f"{flag}: only for bench build (not {ns.what})")
    out = ns.out or project.root / "bench" / "results" / f"{ns.what}.json"
    if ns.what == "retrieval":
        from taglake.bench.retrieval import format_retrieval_report, run_retrieval_benchmark

        if ns.customers < 1 or ns.lookups < 1 or ns.batches < 1:
            raise ValueError("--customers, --lookups and --batches: at least 1")
        work = (ns.work_dir or project.root / "bench" / "work").resolve()
        result = run_retrieval_benchmark(
            work,
            project.root / "seeds" / "tag_catalog.csv",
            customers=ns.customers,
            lookups=ns.lookups,
            batches=ns.batches,
            out_json=out,
        )
        print(format_retrieval_report(result))
        return 0
    scales = ns.scale or ["lake", "large"]
    if ns.what == "athena-cost":
        from taglake.bench.athena_scan import format_athena_report, run_athena_estimate

        if len(lakes) != 1:
            raise ValueError("bench athena-cost takes one --lake")
        work = (ns.work_dir or project.root / "bench" / "work").resolve() / "athena-cost"
        result = run_athena_estimate(
            project, lake_dir=lakes[0], db_path=(ns.db or project.duckdb_path).resolve(), work_dir=work, scales=scales
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(format_athena_report(result))
        return 0
    if ns.what == "build":
        from taglake.bench.build import format_build_report, run_build_benchmark

        if len(lakes) != 1:
            raise ValueError("bench build takes one --lake")
        work = (ns.work_dir or project.root / "bench" / "work").resolve()
        result = run_build_benchmark(
            project,
            lake_dir=lakes[0],
            runs=ns.runs,
            work_dir=work,
            out_json=out,
            athena_scales=None if ns.no_athena else scales,
            days=ns.days,
            keep=ns.keep,
            plain=not ns.no_plain,
        )
        print(format_build_report(result))
        return 0
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
