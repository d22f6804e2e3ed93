"""The dashboards' one data-access layer (dashboards/, docs/dashboards.md).

The Streamlit pages never hold SQL: they name one of the fixed `QUERIES` below, each a read of one consumption
relation (a mart, the tag catalog seed) through `{{ ref(...) }}`, resolved and run by taglake.ops.query exactly as
`taglake query` runs ad hoc SQL — locally on the locked, read-only connection to the published consumption file
(taglake.ops.consumption: no layer but marts, reference and snapshots is reachable), on Athena through PyAthena in
the configured workgroup, checked by taglake.ops.sql_policy. Filters are applied to the fetched aggregate rows, never
spliced into SQL, so nothing a page is given can change what runs.

Which engine: `DashboardConfig.from_args` (the flags after `streamlit run dashboards/app.py --`) over the
environment (TAGLAKE_DASHBOARD_TARGET, TAGLAKE_DASHBOARD_DATABASE, TAGLAKE_DASHBOARD_TTL_SECONDS,
TAGLAKE_DASHBOARD_ARTIFACTS: the folder holding dbt's target/, for the cost page).

Small counts: a count of customers below `SMALL_COUNT_THRESHOLD` is shown as `<k`, and so is any share computed
from it (`suppress_count`, `suppressed_rows`), so that a drill-down to a small cell cannot single out a customer.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taglake.core.errors import TaglakeError
from taglake.core.project import Project
from taglake.ops import query

# The one declared threshold: a customer count below it is never shown (docs/privacy.md § Dashboards).
SMALL_COUNT_THRESHOLD = 10
SUPPRESSED = f"<{SMALL_COUNT_THRESHOLD}"
DEFAULT_TTL_SECONDS = 600
ENV_TARGET = "TAGLAKE_DASHBOARD_TARGET"
ENV_DATABASE = "TAGLAKE_DASHBOARD_DATABASE"
ENV_TTL = "TAGLAKE_DASHBOARD_TTL_SECONDS"
ENV_ARTIFACTS = "TAGLAKE_DASHBOARD_ARTIFACTS"

# The fixed queries: name → SQL over consumption relations only. Aggregates only: no query selects a customer token.
QUERIES: Mapping[str, str] = {
    "tag_population_daily": (
        "select as_of_date, tag_code, tag_family, city, age_band, risk_grade, tagged_customer_count, "
        "segment_customer_count from {{ ref('agg_tag_population_daily') }}"
    ),
    "tag_catalog": "select tag_code, tag_name_zh, tag_name_en, tag_family, status from {{ ref('tag_catalog') }}",
    "quality_checks": (
        "select as_of_date, run_id, model, quality_dimension, check_kind, status, "
        "count(*) as checks, sum(coalesce(failing_rows, 0)) as failing_rows, "
        "sum(coalesce(checked_rows, 0)) as checked_rows "
        "from {{ ref('fct_quality_check_results') }} "
        "group by as_of_date, run_id, model, quality_dimension, check_kind, status"
    ),
    "raw_intake_daily": (
        "select source_table, landing_date, raw_rows, accepted_rows, quarantined_rows "
        "from {{ ref('fct_raw_intake_daily') }}"
    ),
    "feed_completeness_daily": (
        "select source_table, landing_date, raw_rows, is_complete from {{ ref('fct_feed_completeness_daily') }}"
    ),
    "source_reconciliation": (
        "select source_table, raw_rows, accepted_rows, collapsed_rows, quarantined_rows "
        "from {{ ref('fct_source_reconciliation') }}"
    ),
    "score_distribution_monthly": (
        "select model_name, model_version, score_month, bin_index, bin_lower, bin_upper, score_count, score_share, "
        "baseline_share from {{ ref('agg_model_score_distribution_monthly') }}"
    ),
    "score_drift_monthly": (
        "select model_name, model_version, score_month, baseline_month, is_baseline, score_count, customer_count, "
        "mean_score, psi, drift_level from {{ ref('agg_model_score_drift_monthly') }}"
    ),
    "model_performance_monthly": (
        "select model_name, model_version, outcome_month, customer_count, positive_count, negative_count, "
        "positive_rate, auc, top_decile_count, top_decile_positive_count, top_decile_lift "
        "from {{ ref('agg_model_performance_monthly') }}"
    ),
}
# Columns that count customers (or their scores): suppressed below the threshold wherever they are shown.
COUNT_COLUMNS = frozenset(
    {
        "tagged_customer_count",
        "segment_customer_count",
        "customer_count",
        "score_count",
        "positive_count",
        "negative_count",
        "top_decile_count",
        "top_decile_positive_count",
    }
)
# A share derived from a count: suppressed with it.
SHARE_OF = {"tagged_share": "tagged_customer_count", "score_share": "score_count"}
# A measure computed from several counts: suppressed when any of them is small (an AUC over nine positives, or a
# positive rate that gives the positives back times the population, would single them out).
MEASURE_OF: Mapping[str, tuple[str, ...]] = {
    "positive_rate": ("positive_count", "negative_count"),
    "auc": ("positive_count", "negative_count"),
    "top_decile_lift": ("top_decile_positive_count", "top_decile_count", "positive_count", "negative_count"),
}


class DashboardError(TaglakeError):
    """A query the dashboards do not know, or a configuration that cannot be used: the message names the fix."""


@dataclass(frozen=True)
class DashboardConfig:
    """Where the dashboards read: a target of profiles.yml (local → DuckDB, athena → Athena), the local build's file,
    the cache's time-to-live, and the dbt artifacts folder the cost page reads."""

    target: str = "local"
    database: str | None = None
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    artifacts: str | None = None

    @classmethod
    def from_args(cls, argv: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> DashboardConfig:
        env = os.environ if environ is None else environ
        parser = argparse.ArgumentParser(prog="dashboards/app.py", add_help=False, allow_abbrev=False)
        parser.add_argument("--target", default=env.get(ENV_TARGET, "local"))
        parser.add_argument("--database", default=env.get(ENV_DATABASE))
        parser.add_argument("--ttl-seconds", default=env.get(ENV_TTL, str(DEFAULT_TTL_SECONDS)))
        parser.add_argument("--artifacts", default=env.get(ENV_ARTIFACTS))
        ns, _ = parser.parse_known_args(list(argv))
        try:
            ttl = int(ns.ttl_seconds)
        except ValueError:
            raise DashboardError(f"{ENV_TTL} / --ttl-seconds: give a whole number of seconds") from None
        if ttl < 0:
            raise DashboardError(f"{ENV_TTL} / --ttl-seconds: give zero or more seconds")
        if query.engine_of(ns.target) not in ("duckdb", "athena"):
            raise DashboardError(f"--target {ns.target}: the dashboards read a local (DuckDB) or an athena target")
        if query.is_system_target(ns.target):
            raise DashboardError(f"--target {ns.target}: the dashboards never read as the system account")
        return cls(target=ns.target, database=ns.database, ttl_seconds=ttl, artifacts=ns.artifacts)

    @property
    def engine(self) -> str:
        return query.engine_of(self.target)

    def project(self) -> Project:
        db = Path(self.database) if self.database else None
        return Project.locate(duckdb_path=db, artifacts_dir=Path(self.artifacts) if self.artifacts else None)


@dataclass(frozen=True)
class Fetched:
    """A fixed query's result: columns, rows, and the bytes the engine scanned for it (None where not reported)."""

    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    scanned_bytes: int | None = None
    query_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def query_sql(config: DashboardConfig, name: str) -> str:
    """The SQL the named fixed query runs on the configured target (refs resolved; nothing else substituted)."""
    if name not in QUERIES:
        raise DashboardError(f"no dashboard query named {name!r}: one of {', '.join(sorted(QUERIES))}")
    return query.resolve_sql(config.project(), config.target, sql=QUERIES[name])


def fetch(config: DashboardConfig, name: str, *, connection: Any = None) -> Fetched:
    """Run the named fixed query on the configured target (DuckDB: the consumption file; Athena: PyAthena)."""
    sql = query_sql(config, name)
    project = config.project()
    db = Path(config.database) if config.database else None
    result = query.run_query(project, config.target, sql, db_path=db, connection=connection)
    scanned = result.scanned_bytes if config.engine == "athena" else None
    return Fetched(name, result.columns, result.rows, scanned, result.query_id)


def suppress_count(value: Any, threshold: int = SMALL_COUNT_THRESHOLD) -> Any:
    """A customer count as shown: `<k` below the threshold (zero included: an empty cell is a fact too), else it."""
    if value is None:
        return None
    return f"<{threshold}" if int(value) < threshold else int(value)


def suppressed_rows(
    records: Iterable[Mapping[str, Any]], threshold: int = SMALL_COUNT_THRESHOLD
) -> list[dict[str, Any]]:
    """Rows ready to show: every count column below the threshold as `<k`, and each share or measure of such a count
    too.
    Every value of a suppressed row is a string or a number, so a table shows `<k` as text."""
    shown = []
    for record in records:
        row = dict(record)
        for share, count in SHARE_OF.items():
            if share in row and count in row and row[count] is not None and int(row[count]) < threshold:
                row[share] = f"<{threshold}"
        for measure, counts in MEASURE_OF.items():
            present = [row[c] for c in counts if c in row and row[c] is not None]
            if measure in row and any(int(n) < threshold for n in present):
                row[measure] = f"<{threshold}"
        for column in COUNT_COLUMNS & row.keys():
            row[column] = suppress_count(row[column], threshold)
        shown.append(row)
    return shown


# ---- cost: what the engine reported scanning ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScannedNode:
    unique_id: str
    status: str
    scanned_bytes: int


def run_scans(run_results: Path) -> tuple[str | None, list[ScannedNode]]:
    """The run's id (dbt's invocation id) and every node whose adapter response reports bytes scanned (Athena's
    `data_scanned_in_bytes`; DuckDB and Redshift report none, so a local run gives an empty list)."""
    from taglake.ops.metrics import _scanned_bytes

    if not run_results.is_file():
        return None, []
    try:
        data = json.loads(run_results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise DashboardError(f"{run_results}: not a readable run_results.json: run the build again") from None
    invocation = (data.get("metadata") or {}).get("invocation_id")
    nodes = []
    for result in data.get("results") or []:
        scanned = _scanned_bytes(result.get("adapter_response"))
        if scanned is not None:
            nodes.append(ScannedNode(str(result.get("unique_id")), str(result.get("status")), scanned))
    return invocation, nodes


# ---- Streamlit: the cache (imported lazily: only the dashboards' process has Streamlit running) ------------------


def _fetch_cached(config: DashboardConfig, name: str) -> Fetched:
    return fetch(config, name)


def _cached(config: DashboardConfig, name: str) -> Fetched:
    """The fixed query's result from Streamlit's data cache, fetched again once `config.ttl_seconds` have passed.
    A failure is shown as its one-line message (never a traceback) and stops the page."""
    import streamlit as st

    loader = st.cache_data(ttl=config.ttl_seconds, show_spinner=False, max_entries=64)(_fetch_cached)
    try:
        return loader(config, name)
    except (TaglakeError, FileNotFoundError, RuntimeError) as err:
        st.error(f"The dashboard could not read {name}: {err}")
        st.stop()
        raise  # st.stop() raises; this line is for the type checker


def cached_records(config: DashboardConfig, name: str) -> list[dict[str, Any]]:
    """The named fixed query's rows as records, through the cache."""
    return _cached(config, name).records()


def cached_scan(config: DashboardConfig, name: str) -> int | None:
    """The bytes the engine reported scanning for the named query's (cached) result; None where not reported."""
    return _cached(config, name).scanned_bytes
