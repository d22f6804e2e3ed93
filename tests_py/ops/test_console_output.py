"""What taglake prints for a person: short, no colour codes when piped, stale sources said as what they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import artifact_shapes as shapes
import pytest
from project_copy import run_taglake

from taglake.core.artifacts import RunResults, Sources
from taglake.core.project import Project, colour_env
from taglake.lake.generate import generate_lake
from taglake.ops.daily import build_detail, freshness_detail, stale_lines
from taglake.ops.local_build import declares_packages, failing_lines, status_counts

ANSI = "\x1b["


def test_each_stale_source_is_one_line_with_its_newest_landing_and_age() -> None:
    sources = Sources.model_validate(
        shapes.sources(
            shapes.freshness("source.taglake.crm.customers", "error", "2026-10-31T00:00:00+00:00", 31 * 86_400 + 3_600),
            shapes.freshness("source.taglake.cards.transactions", "pass", "2026-11-30"),
            shapes.freshness("source.taglake.digital.app_events", "warn", "2026-11-28T00:00:00", 3 * 86_400),
        )
    )
    assert stale_lines(sources, allowed=True) == [
        "stale (allowed by --allow-stale): crm.customers newest landing 2026-10-31, 31 days",
        "stale (allowed by --allow-stale): digital.app_events newest landing 2026-11-28, 3 days",
    ]
    assert stale_lines(sources, allowed=False)[0] == "stale: crm.customers newest landing 2026-10-31, 31 days"


def test_the_freshness_step_detail_says_stale_not_error() -> None:
    sources = Sources.model_validate(
        shapes.sources(
            *(shapes.freshness(f"source.taglake.s.t{i}", "error", "2026-11-01") for i in range(4)),
            shapes.freshness("source.taglake.ml.model_scores", "pass", "2026-11-01T00:00:00"),
        )
    )
    assert freshness_detail(sources) == "4 stale, 1 fresh; newest landing 2026-11-01"
    assert freshness_detail(None) == "no sources checked"


def test_a_failed_freshness_query_is_not_called_stale() -> None:
    sources = Sources.model_validate(shapes.sources(shapes.freshness_failed("source.taglake.ml.model_scores")))
    assert stale_lines(sources, allowed=True) == ["freshness check failed: ml.model_scores (see logs/dbt.log)"]
    assert freshness_detail(sources) == "1 check failed"


def test_build_counts_group_dbt_statuses_as_its_summary_line_does() -> None:
    statuses = ("success", "pass", "pass", "warn", "error", "fail", "skipped")
    results = RunResults.model_validate(
        shapes.run_results(*(shapes.run_result(f"test.taglake.t{i}", s) for i, s in enumerate(statuses)))
    )
    assert status_counts(results) == {"PASS": 3, "WARN": 1, "ERROR": 2, "SKIP": 1}
    assert status_counts(None) == {"PASS": 0, "WARN": 0, "ERROR": 0, "SKIP": 0}


def test_the_build_step_detail_counts_kinds_and_statuses() -> None:
    results = RunResults.model_validate(
        shapes.run_results(
            shapes.run_result("model.taglake.a", "success"),
            shapes.run_result("model.taglake.b", "success"),
            shapes.run_result("test.taglake.c", "fail"),
        )
    )
    assert build_detail(results) == "2 models, 1 tests: 1 fail, 2 success"
    assert build_detail(None) == "nothing built: "


def test_a_failed_build_shows_dbt_closing_summary_not_every_ok_line() -> None:
    output = "".join(f"12:00:00  {i} of 300 OK created sql table model m{i} [OK in 0.1s]\n" for i in range(300))
    output += "12:00:09  Completed with 1 error, 0 partial successes, and 0 warnings:\n"
    output += "12:00:09  Failure in test not_null_x (models/x.yml)\n12:00:09  Done. PASS=299 ERROR=1\n"
    shown = failing_lines(output)
    assert shown.startswith("12:00:09  Completed with 1 error")
    assert "Failure in test not_null_x" in shown and " OK created" not in shown


def test_dbt_deps_runs_only_when_a_package_is_declared(tmp_path: Path) -> None:
    assert not declares_packages(Project.locate().root)  # this project: `packages: []`
    (tmp_path / "packages.yml").write_text("packages: []\n", encoding="utf-8")
    assert not declares_packages(tmp_path)
    (tmp_path / "packages.yml").write_text("packages:\n  - local: ../shared_macros\n", encoding="utf-8")
    assert declares_packages(tmp_path)


def test_dbt_colour_follows_the_terminal_and_never_reaches_the_log() -> None:
    assert colour_env(on_terminal=False) == {"DBT_USE_COLORS": "false", "DBT_USE_COLORS_FILE": "false"}
    assert colour_env(on_terminal=True)["DBT_USE_COLORS"] == "true"


@pytest.mark.dbt
def test_dbt_through_taglake_prints_no_colour_codes_when_piped(tmp_path: Path) -> None:
    project = Project.locate(
        lake_dir=tmp_path / "lake", duckdb_path=tmp_path / "t.duckdb", artifacts_dir=tmp_path / "artifacts"
    )
    result = run_taglake(["dbt", "parse"], env=project.dbt_env("local"))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Running with dbt" in result.stdout
    assert ANSI not in result.stdout + result.stderr
    assert ANSI not in (project.log_path / "dbt.log").read_text(encoding="utf-8")


@pytest.mark.dbt
def test_run_daily_on_a_stale_lake_with_allow_stale_says_stale_not_dbt_errors(tmp_path: Path) -> None:
    project = Project.locate(
        lake_dir=tmp_path / "lake", duckdb_path=tmp_path / "t.duckdb", artifacts_dir=tmp_path / "artifacts"
    )
    end = datetime.now(UTC).date() - timedelta(days=5)
    generate_lake(project.lake_dir, customers=2000, days=2, end_date=end, progress=False)
    env = project.dbt_env("local")
    assert run_taglake(["keys", "init", "--if-missing"], env=env).returncode == 0
    # build nothing: this test is about the freshness step's report
    result = run_taglake(["run-daily", "--allow-stale", "--no-scan", "--", "--select", "tag:no_such_tag"], env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert f"stale (allowed by --allow-stale): crm.customers newest landing {end.isoformat()}, 5 days" in out
    assert "ERROR STALE" not in out and " error" not in out and ANSI not in out
    assert "ERROR STALE" in (project.log_path / "dbt.log").read_text(encoding="utf-8")  # kept in the log
    assert "daily run ok" in result.stdout
