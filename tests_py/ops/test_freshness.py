"""Source freshness is configured on every source and means "the newest landing partition"."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taglake.core.project import Project
from taglake.lake.generate import generate_lake
from taglake.privacy import dbt_runner

pytestmark = pytest.mark.dbt


def _freshness(tmp_path: Path, end_offset_days: int) -> subprocess.CompletedProcess[str]:
    project = Project.locate(
        lake_dir=tmp_path / "lake", duckdb_path=tmp_path / "t.duckdb", artifacts_dir=tmp_path / "artifacts"
    )
    end = datetime.now(UTC).date() - timedelta(days=end_offset_days)
    generate_lake(project.lake_dir, customers=2000, days=2, end_date=end, progress=False)
    project.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    return dbt_runner.capture(["source", "freshness"], cwd=project.root, env=project.dbt_env("local"))


def test_every_source_has_freshness(tmp_path: Path) -> None:
    result = _freshness(tmp_path, 0)
    assert result.returncode == 0, result.stdout[-3000:]
    sources = json.loads((tmp_path / "artifacts" / "target" / "sources.json").read_text(encoding="utf-8"))
    checked = {r["unique_id"].split(".", 2)[2]: r["status"] for r in sources["results"]}
    assert checked == {
        "crm.customers": "pass",
        "core_banking.accounts": "pass",
        "cards.transactions": "pass",
        "digital.app_events": "pass",
        "ml.model_scores": "pass",
        "ml.model_outcomes": "pass",
    }


def test_a_lake_that_stopped_landing_fails_freshness(tmp_path: Path) -> None:
    result = _freshness(tmp_path, 5)
    assert result.returncode != 0
    assert "ERROR STALE" in result.stdout
