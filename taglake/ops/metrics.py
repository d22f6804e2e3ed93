"""CloudWatch metrics of a run: `taglake metrics put` (docs/operations.md § Metrics).

Per run: how long dbt ran, how many models and tests failed, how many rows each source quarantined on its newest
landing day, how old each source's newest landing is, and the bytes the engine scanned where it reports them
(Athena's adapter response has `data_scanned_in_bytes`; DuckDB and Redshift report none, and then no BytesScanned
datapoint is put: an absent metric, never a made-up zero). dbt's artifacts are read through taglake.core.artifacts;
the rows quarantined come from the quality history (fct_quality_check_results, the run's `quarantine` rows).
Counts and seconds only: no name of a customer, no value of a row, ever reaches a metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taglake.core.artifacts import FreshnessCheckFailed, RunResults, Sources, run_results_if_written, sources_if_written
from taglake.core.errors import TaglakeError
from taglake.core.project import Project
from taglake.ops.quality import check_as_of, check_run_id

NAMESPACE = "Taglake"
# What each metric is (docs/operations.md § Metrics repeats it for operators).
METRICS = {
    "RunDurationSeconds": "Seconds dbt ran: the build's elapsed time, plus source freshness if checked.",
    "ModelsFailed": "Models (and seeds, snapshots) that ended in error.",
    "TestsFailed": "Data tests that failed or could not run (status fail or error; warn is not a failure).",
    "RowsQuarantined": "Rows staging quarantined on the source's newest landing day (per Source).",
    "FreshnessLagSeconds": "Age of the source's newest landing partition when freshness was checked (per Source).",
    "BytesScanned": "Bytes the engine scanned over the run's queries (Athena only; absent where not reported).",
}
FAILED_BUILDS = frozenset({"error"})
FAILED_TESTS = frozenset({"fail", "error"})


class MetricsError(TaglakeError):
    """Nothing to put, or a datum that cannot be read: the message names the file and the fix."""


@dataclass(frozen=True)
class Datum:
    """One CloudWatch datapoint: a metric, its dimensions (name → value), value and unit."""

    name: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    unit: str
    timestamp: datetime

    def as_metric_data(self) -> dict[str, Any]:
        return {
            "MetricName": self.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
            "Value": float(self.value),
            "Unit": self.unit,
            "Timestamp": self.timestamp,
        }

    def row(self) -> tuple[str, str, str, str]:
        dims = ", ".join(f"{k}={v}" for k, v in self.dimensions)
        shown = f"{self.value:,.0f}" if float(self.value).is_integer() else f"{self.value:,.3f}"
        return (self.name, dims, shown, self.unit)


def build_metrics(
    run_results: RunResults | None,
    sources: Sources | None,
    quarantined: dict[str, int],
    *,
    environment: str,
    target: str,
    timestamp: datetime,
) -> list[Datum]:
    """The run's datapoints from its artifacts and the rows quarantined per source (`source.table` → rows)."""
    base = (("Environment", environment), ("Target", target))
    data: list[Datum] = []
    results = run_results.results if run_results else []
    duration = (run_results.elapsed_time if run_results else 0.0) + (sources.elapsed_time if sources else 0.0)
    if run_results or sources:
        data.append(Datum("RunDurationSeconds", base, round(duration, 3), "Seconds", timestamp))
    if run_results:
        kinds = [(r.unique_id.split(".")[0], r.status.value) for r in results]
        models = sum(1 for kind, status in kinds if kind in ("model", "seed", "snapshot") and status in FAILED_BUILDS)
        tests = sum(1 for kind, status in kinds if kind == "test" and status in FAILED_TESTS)
        data.append(Datum("ModelsFailed", base, models, "Count", timestamp))
        data.append(Datum("TestsFailed", base, tests, "Count", timestamp))
        scanned = [_scanned_bytes(r.adapter_response) for r in results]
        reported = [b for b in scanned if b is not None]
        if reported:
            data.append(Datum("BytesScanned", base, sum(reported), "Bytes", timestamp))
    for source, rows in sorted(quarantined.items()):
        data.append(Datum("RowsQuarantined", (*base, ("Source", source)), rows, "Count", timestamp))
    for checked in sorted(sources.results if sources else [], key=lambda r: r.unique_id):
        if isinstance(checked, FreshnessCheckFailed):
            continue  # its query failed: no age is known, and none is made up
        source = ".".join(checked.unique_id.split(".")[-2:])
        lag = round(checked.max_loaded_at_time_ago_in_s, 3)
        data.append(Datum("FreshnessLagSeconds", (*base, ("Source", source)), lag, "Seconds", timestamp))
    return data


def _scanned_bytes(response: object) -> int | None:
    """Athena's `data_scanned_in_bytes` from a node's adapter response; None where the engine reports none."""
    value = response.get("data_scanned_in_bytes") if isinstance(response, dict) else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def quarantined_rows(
    project: Project, target: str, run_id: str, as_of: str, *, connection: Any = None
) -> dict[str, int]:
    """Rows quarantined per source on its newest landing day, as the run recorded them in the quality history."""
    from taglake.ops import query

    check_run_id(run_id)
    check_as_of(as_of)
    sql = query.resolve_sql(
        project,
        target,
        sql="select model, failing_rows from {{ ref('fct_quality_check_results') }} "
        f"where run_id = '{run_id}' and check_kind = 'quarantine' and as_of_date = cast('{as_of}' as date)",
    )
    result = query.run_query(project, target, sql, connection=connection)
    return {str(model): int(rows or 0) for model, rows in result.rows}


def run_metrics(
    project: Project,
    *,
    target: str,
    run_id: str,
    as_of: str,
    environment: str,
    run_results_path: Path | None = None,
    sources_path: Path | None = None,
    connection: Any = None,
) -> list[Datum]:
    """The datapoints of run `run_id`: its artifacts (default: the project's target/) and its quality history rows.
    Timestamped at the end of the run (run_results.json's generated_at), else now."""
    check_run_id(run_id)
    check_as_of(as_of)
    results_file = run_results_path or project.target_path / "run_results.json"
    run_results = run_results_if_written(results_file)
    sources = sources_if_written(sources_path or project.target_path / "sources.json")
    if run_results is None and sources is None:
        raise MetricsError(f"{results_file}: no run_results.json nor sources.json: run the build first")
    generated = run_results.metadata.generated_at if run_results else None
    timestamp = _as_datetime(generated) or datetime.now(UTC)
    quarantined = quarantined_rows(project, target, run_id, as_of, connection=connection)
    return build_metrics(run_results, sources, quarantined, environment=environment, target=target, timestamp=timestamp)


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def cloudwatch_client(*, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A CloudWatch client: the region given, else TAGLAKE_AWS_REGION, else the AWS chain's; AWS_ENDPOINT_URL (or
    `endpoint_url`) for a local endpoint."""
    import os

    import boto3

    region = region or os.environ.get("TAGLAKE_AWS_REGION") or None
    return boto3.client("cloudwatch", region_name=region, endpoint_url=endpoint_url)


def put_metrics(client: Any, data: list[Datum], *, namespace: str = NAMESPACE) -> int:
    """Put the datapoints, at most 1000 per call (CloudWatch's limit); returns how many were put."""
    for start in range(0, len(data), 1000):
        client.put_metric_data(Namespace=namespace, MetricData=[d.as_metric_data() for d in data[start : start + 1000]])
    return len(data)
