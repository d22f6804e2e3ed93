"""The daily-run benchmark: a full build, a day appended to the lake, the incremental build, and the goals judged
on what was measured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taglake.bench.daily import format_daily_report, goals, run_daily_benchmark
from taglake.core.project import Project
from taglake.lake.generate import generate_lake


def _run(days: int, full: float, incremental: float) -> dict:
    return {
        "history_days": days,
        "full_build": {"wall_seconds": full},
        "incremental_build": {"wall_seconds": incremental},
        "incremental_share_of_full": incremental / full,
    }


def test_goals_are_judged_on_the_longest_history_and_the_ratio_to_the_shortest() -> None:
    met = goals([_run(30, 60.0, 2.0), _run(365, 280.0, 2.5)])
    assert met["full_build_seconds"] == 280.0 and met["full_build_within_goal"]
    assert met["incremental_share"] == pytest.approx(2.5 / 280.0) and met["incremental_share_within_goal"]
    assert met["history_ratio"] == pytest.approx(1.25) and met["history_ratio_within_goal"]
    missed = goals([_run(30, 60.0, 10.0), _run(365, 600.0, 40.0)])
    assert not missed["full_build_within_goal"]
    assert not missed["incremental_share_within_goal"]  # 40 / 600 = 6.7 %
    assert not missed["history_ratio_within_goal"]  # 4×
    assert goals([_run(365, 100.0, 1.0)])["history_ratio"] is None


@pytest.mark.dbt
def test_the_daily_benchmark_builds_appends_a_day_and_builds_incrementally(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    generate_lake(lake, customers=150, days=4, seed=5, progress=False)
    out = tmp_path / "daily.json"
    result = run_daily_benchmark(Project.locate(), lakes=[lake], work_dir=tmp_path / "work", out_json=out)
    (run,) = result["runs"]
    assert run["history_days"] == 4
    assert (
        run["appended_day"] == json.loads((lake / "manifest.json").read_text(encoding="utf-8"))["params"]["last_date"]
    )
    for build in ("full_build", "incremental_build"):
        assert run[build]["wall_seconds"] > 0 and run[build]["peak_rss_bytes"] > 0 and run[build]["cpu_seconds"] > 0
        assert run[build]["slowest_nodes"]
        parts = run[build]["breakdown"]["parts"]
        assert parts["creates"] > 0 and parts["tests"] > 0 and parts["guard"] > 0
        assert sum(parts.values()) == pytest.approx(run[build]["breakdown"]["node_seconds"])
    assert set(run["read_everything"]["tables"]) >= {"cards.transactions", "crm.customers"}
    assert "plain_script" not in run and run["full_over_plain"] is None  # the days' cost only: no plain script
    assert json.loads(out.read_text(encoding="utf-8"))["runs"][0]["history_days"] == 4
    report = format_daily_report(result)
    assert "4 days" in report and "full build ≤ 300 s" in report
