"""`taglake metrics put`: a run's CloudWatch metrics with their dimensions, read back from moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from artifact_shapes import freshness, run_result, run_results, sources, write
from moto import mock_aws

from taglake.core.artifacts import read_run_results, read_sources
from taglake.core.project import Project
from taglake.ops import metrics

pytestmark = pytest.mark.alerts

NOW = datetime.now(UTC).replace(microsecond=0)


def _artifacts(tmp_path: Path, *, athena: bool) -> tuple[Path, Path]:
    model = run_result("model.taglake.stg_crm__customers", "success")
    broken = run_result("model.taglake.fct_card_transactions", "error")
    failed = run_result("test.taglake.not_null_x.0123456789", "fail")
    passed = run_result("test.taglake.unique_y.abcdef0123", "pass")
    if athena:
        model["adapter_response"] = {"_message": "OK", "data_scanned_in_bytes": 1500}
        passed["adapter_response"] = {"_message": "OK", "data_scanned_in_bytes": 500}
    built = write(tmp_path / "run_results.json", run_results(model, broken, failed, passed))
    checked = write(
        tmp_path / "sources.json",
        sources(
            freshness("source.taglake.crm.customers", "pass", "2026-11-30T00:00:00", age_seconds=3600.0),
            freshness("source.taglake.cards.transactions", "error", "2026-11-20T00:00:00", age_seconds=864000.0),
        ),
    )
    return built, checked


def _data(tmp_path: Path, *, athena: bool) -> list[metrics.Datum]:
    built, checked = _artifacts(tmp_path, athena=athena)
    return metrics.build_metrics(
        read_run_results(built),
        read_sources(checked),
        {"crm.customers": 12, "cards.transactions": 40},
        environment="prod",
        target="athena" if athena else "local",
        timestamp=NOW,
    )


def test_a_runs_metrics_are_put_with_their_dimensions_and_read_back(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    data = _data(tmp_path, athena=True)
    with mock_aws():
        client = metrics.cloudwatch_client(region="ap-northeast-1")
        assert metrics.put_metrics(client, data, namespace="Taglake") == len(data)
        listed = client.list_metrics(Namespace="Taglake")["Metrics"]
        names = {m["MetricName"] for m in listed}
        assert names == {
            "RunDurationSeconds",
            "ModelsFailed",
            "TestsFailed",
            "BytesScanned",
            "RowsQuarantined",
            "FreshnessLagSeconds",
        }
        per_source = [m for m in listed if m["MetricName"] == "RowsQuarantined"]
        assert {tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in per_source} == {
            (("Environment", "prod"), ("Source", "cards.transactions"), ("Target", "athena")),
            (("Environment", "prod"), ("Source", "crm.customers"), ("Target", "athena")),
        }

        def read(name: str, **dims: str) -> float:
            got = client.get_metric_statistics(
                Namespace="Taglake",
                MetricName=name,
                Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
                StartTime=NOW - timedelta(minutes=5),
                EndTime=NOW + timedelta(minutes=5),
                Period=60,
                Statistics=["Sum"],
            )["Datapoints"]
            assert len(got) == 1
            return got[0]["Sum"]

        run = {"Environment": "prod", "Target": "athena"}
        assert read("ModelsFailed", **run) == 1
        assert read("TestsFailed", **run) == 1
        assert read("BytesScanned", **run) == 2000
        assert read("RowsQuarantined", **run, Source="cards.transactions") == 40
        assert read("FreshnessLagSeconds", **run, Source="cards.transactions") == 864000.0


def test_no_bytes_scanned_is_put_where_the_engine_reports_none(tmp_path: Path) -> None:
    data = _data(tmp_path, athena=False)
    assert "BytesScanned" not in {d.name for d in data}
    assert {d.name for d in data} >= {"RunDurationSeconds", "ModelsFailed", "TestsFailed"}


@pytest.mark.dbt
def test_rows_quarantined_are_the_runs_quarantine_rows_of_the_history(
    built_project: Project, build_run_results: dict
) -> None:
    run_id = build_run_results["metadata"]["invocation_id"]  # the session build ran without taglake_run_id
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        as_of, landed = con.execute(
            "select max(as_of_date), count(*) from taglake_marts.fct_quality_check_results "
            f"where run_id = '{run_id}' and check_kind = 'quarantine'"
        ).fetchone()
        daily = dict(
            con.execute(
                "select source_table, quarantined_rows from taglake_marts.fct_raw_intake_daily as d "
                "where landing_date = (select max(landing_date) from taglake_marts.fct_raw_intake_daily as n "
                "where n.source_table = d.source_table)"
            ).fetchall()
        )
    found = metrics.quarantined_rows(built_project, "local", run_id, str(as_of))
    assert landed == len(found) == 6  # one per raw table
    assert found == daily
