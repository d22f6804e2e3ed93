"""The daily-run benchmark (`taglake bench daily`): what a full build of a lake costs, and what one more day costs on
top of it — the day appended to the lake (`taglake generate --append-day`), then the incremental `dbt build` — for
each lake given, typically the large lake with 365 days of history and one with 30.

The goals (issue 5): a full build at most 5 minutes on a 2-core machine; the one-day incremental run at most 5 % of
the full build; its time with 365 days of history at most 1.3× its time with 30 (cost follows new data, not
history). Each lake gains the appended day: the benchmark writes to it. docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from taglake.bench.build import bench_run
from taglake.bench.masking import _num, _table, lake_description, machine_description
from taglake.core.project import Project

GOAL_FULL_SECONDS = 300.0
GOAL_INCREMENTAL_SHARE = 0.05
GOAL_HISTORY_RATIO = 1.3


def _slowest(build: dict) -> dict:
    """A build's figures with its slowest models (create seconds), as the daily report lists them."""
    top = build["breakdown"]["top_models"]
    return {**build, "slowest_nodes": [{"name": m["model"], "seconds": m["create_seconds"]} for m in top]}


def bench_lake(project: Project, lake_dir: Path, folder: Path) -> dict:
    """Full build of `lake_dir` into a new database under `folder`, append a day to it, then the incremental build
    (taglake.bench.build's run, on the lake itself)."""
    described = lake_description(lake_dir)
    run = bench_run(project, lake_dir, folder, copy=False, plain=False)  # the days' cost only
    return {
        **run,
        "lake": described,
        "history_days": (described["params"] or {}).get("days", 0)
        + (described["params"] or {}).get("appended_days", 0),
        "full_build": _slowest(run["full_build"]),
        "incremental_build": _slowest(run["incremental_build"]),
    }


def goals(runs: list[dict]) -> dict:
    """Each goal met or not, on the figures measured (None where a run needed for it is missing)."""
    by_days = {r["history_days"]: r for r in runs}
    longest = by_days[max(by_days)] if by_days else None
    history_ratio = None
    if len(by_days) >= 2:
        shortest = by_days[min(by_days)]
        history_ratio = longest["incremental_build"]["wall_seconds"] / shortest["incremental_build"]["wall_seconds"]
    return {
        "full_build_seconds": longest["full_build"]["wall_seconds"] if longest else None,
        "full_build_within_goal": longest["full_build"]["wall_seconds"] <= GOAL_FULL_SECONDS if longest else None,
        "incremental_share": longest["incremental_share_of_full"] if longest else None,
        "incremental_share_within_goal": (
            longest["incremental_share_of_full"] <= GOAL_INCREMENTAL_SHARE if longest else None
        ),
        "history_ratio": history_ratio,
        "history_ratio_within_goal": history_ratio <= GOAL_HISTORY_RATIO if history_ratio is not None else None,
    }


def run_daily_benchmark(project: Project, *, lakes: list[Path], work_dir: Path, out_json: Path) -> dict:
    """Benchmark every lake in turn (builds under `work_dir`, kept); the result is written to `out_json` after each
    lake, so a long run that fails late keeps what it measured."""
    out_json.parent.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "benchmark": "daily",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "runs": [],
        "goals": None,
    }

    def save() -> None:
        out_json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    for index, lake in enumerate(lakes):
        result["runs"].append(bench_lake(project, Path(lake).resolve(), work_dir / f"{index}-{Path(lake).name}"))
        result["goals"] = goals(result["runs"])
        save()
    return result


def format_daily_report(result: dict) -> str:
    """The figures as a plain-text table, then each goal."""
    gib = 2**30
    rows = []
    for run in result["runs"]:
        full, inc = run["full_build"], run["incremental_build"]
        rows.append(
            [
                f"{run['history_days']} days",
                _num(run["lake"]["rows"].get("cards.transactions"), "{:,.0f}"),
                _num(full["wall_seconds"]),
                _num(full["peak_rss_bytes"] / gib),
                _num(run["append_day_seconds"]),
                _num(inc["wall_seconds"]),
                _num(inc["peak_rss_bytes"] / gib),
                _num(100 * run["incremental_share_of_full"]),
            ]
        )
    headers = ["history", "card tx", "full s", "full GiB", "append s", "1-day inc s", "inc GiB", "inc % of full"]
    out = [_table(headers, rows), ""]
    g = result.get("goals") or {}

    def verdict(ok: bool | None) -> str:
        return "-" if ok is None else ("met" if ok else "NOT met")

    out.append(
        f"full build ≤ {GOAL_FULL_SECONDS:.0f} s: {_num(g.get('full_build_seconds'))} s, "
        f"{verdict(g.get('full_build_within_goal'))}"
    )
    share = g.get("incremental_share")
    out.append(
        f"one-day incremental ≤ {100 * GOAL_INCREMENTAL_SHARE:.0f} % of full: "
        f"{_num(100 * share if share is not None else None)} %, {verdict(g.get('incremental_share_within_goal'))}"
    )
    out.append(
        f"incremental, longest vs shortest history ≤ {GOAL_HISTORY_RATIO}×: {_num(g.get('history_ratio'), '{:.2f}')}×, "
        f"{verdict(g.get('history_ratio_within_goal'))}"
    )
    return "\n".join(out)
