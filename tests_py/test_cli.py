"""The `taglake` command as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from taglake.project import Project


def _taglake(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taglake", *args],
        cwd=Project.locate().root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_help_names_every_command() -> None:
    result = _taglake(["--help"])
    assert result.returncode == 0
    for command in ("generate", "build", "run-daily", "demo", "dbt", "catalog", "upload", "query"):
        assert re.search(rf"\n    {command}\s", result.stdout), command
    assert "make demo" in result.stdout


def test_generate_help_documents_the_sizes() -> None:
    result = _taglake(["generate", "--help"])
    assert result.returncode == 0
    for flag in ("--out", "--scale", "--customers", "--days", "--seed", "--end-date", "--defect-rate"):
        assert flag in result.stdout


def test_generate_refuses_bad_parameters_with_a_clear_error(tmp_path: Path) -> None:
    result = _taglake(["generate", "--out", str(tmp_path / "lake"), "--defect-rate", "0.9", "--no-progress"])
    assert result.returncode == 1
    assert result.stderr.startswith("taglake: ")
    assert "defect" in result.stderr
    assert not (tmp_path / "lake" / "raw").exists()


def test_generate_writes_the_lake_and_reports_each_table(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    result = _taglake(["generate", "--out", str(out), "--customers", "50", "--days", "3", "--no-progress"])
    assert result.returncode == 0, result.stderr
    assert (out / "manifest.json").is_file()
    for table in ("crm.customers", "core_banking.accounts", "cards.transactions", "digital.app_events"):
        assert table in result.stdout


def test_generate_append_day_adds_the_next_day_to_the_lake(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    base = ["generate", "--out", str(out), "--customers", "50", "--days", "3", "--no-progress"]
    assert _taglake(base).returncode == 0
    result = _taglake(["generate", "--out", str(out), "--append-day", "--no-progress"])
    assert result.returncode == 0, result.stderr
    assert "last landing day 2026-11-01" in result.stdout
    assert (out / "raw" / "cards" / "transactions" / "year=2026" / "month=11" / "day=01").is_dir()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"]["appended_days"] == 1


def test_generate_append_day_without_a_lake_fails_clearly(tmp_path: Path) -> None:
    result = _taglake(["generate", "--out", str(tmp_path / "none"), "--append-day", "--no-progress"])
    assert result.returncode == 1
    assert "no lake to append to" in result.stderr


@pytest.mark.dbt
def test_run_daily_on_a_stale_lake_fails_before_building(tmp_path: Path) -> None:
    project = Project.locate(
        lake_dir=tmp_path / "lake", duckdb_path=tmp_path / "taglake.duckdb", artifacts_dir=tmp_path / "artifacts"
    )
    if datetime.now(UTC).date() < date(2026, 11, 3):
        pytest.skip("the default lake (ending 2026-10-31) is not stale on this clock")
    env = project.dbt_env()
    assert _taglake(["generate", "--customers", "50", "--days", "2", "--no-progress"], env=env).returncode == 0
    result = _taglake(["run-daily"], env=env)
    assert result.returncode == 1
    assert "source freshness  FAILED" in result.stdout
    assert "daily run FAILED" in result.stderr
    assert not project.duckdb_path.exists() or "build " not in result.stdout


@pytest.mark.dbt
def test_demo_builds_and_prints_a_summary_and_a_sample_query(tmp_path: Path) -> None:
    project = Project.locate(
        lake_dir=tmp_path / "lake", duckdb_path=tmp_path / "taglake.duckdb", artifacts_dir=tmp_path / "artifacts"
    )
    result = _taglake(["demo"], env=project.dbt_env())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "What landed, and what staging did with it:" in out
    for table in ("crm.customers", "core_banking.accounts", "cards.transactions", "digital.app_events"):
        assert table in out
    assert "Sample query (analyses/card_spend_by_category.sql):" in out
    sample = out.split("Sample query", 1)[1]
    assert "spend_category" in sample and "dining" in sample
