"""The daily run's Athena cost estimate (taglake.bench.athena_sql, taglake.bench.athena_scan): partitions and
columns found in compiled SQL, Parquet pruned by column and CSV/JSON read whole, the 10 MB minimum per query, the
report's shape, and one estimate over the real offline-compiled daily SQL of the session build."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from taglake.bench.athena_scan import (
    Estimator,
    NodeEstimate,
    Query,
    RawTable,
    Relation,
    Scale,
    estimate_nodes,
    format_athena_report,
    run_athena_estimate,
    summarize,
)
from taglake.bench.athena_sql import table_reads
from taglake.bench.build import format_build_report
from taglake.bench.build import summarize as summarize_build
from taglake.core.project import Project
from taglake.ops.query import BILLING_MB, athena_cost_usd
from taglake.verify.offline_compile import CompiledNode, CompiledProject

pytestmark = pytest.mark.athena_cost

RAW = '"awsdatacatalog"."raw_cards"."transactions"'
# raw_partitions_since's predicate for 2026-10-28 and 2026-10-03
SINCE_20261028 = "(year > 2026 or (year = 2026 and (month > 10 or (month = 10 and day >= 28))))"
SINCE_20261003 = "(year > 2026 or (year = 2026 and (month > 10 or (month = 10 and day >= 3))))"
SCHEMA = {
    "raw_cards": {
        "transactions": {
            "transaction_id": "varchar",
            "amount": "double",
            "year": "int",
            "month": "int",
            "day": "int",
            "national_id": "varchar",
        }
    },
    "raw_crm": {
        "customers": {"national_id": "varchar", "name_zh": "varchar", "year": "int", "month": "int", "day": "int"}
    },
    "taglake_staging": {"base": {"transaction_id": "varchar", "amount": "double", "landing_date": "date"}},
}
PARTITIONED = {
    "raw_cards.transactions": ("year", "month", "day"),
    "raw_crm.customers": ("year", "month", "day"),
    "taglake_staging.base": ("landing_date",),
}
DAILY = f"""with source as (
    select * from {RAW}
    where {SINCE_20261028}
)
select transaction_id, amount from source"""


def _read(sql: str, relation: str):
    [found] = [r for r in table_reads(sql, SCHEMA, PARTITIONED) if r.relation == relation]
    return found


def test_a_one_day_window_predicate_reads_from_its_day_and_a_full_refresh_reads_every_partition() -> None:
    assert _read(DAILY, "raw_cards.transactions").since == date(2026, 10, 28)
    full = DAILY.replace(f"where {SINCE_20261028}", "")
    assert _read(full, "raw_cards.transactions").since is None


def test_a_landing_date_predicate_through_ctes_prunes_a_partitioned_model_table() -> None:
    sql = """with accepted as (select * from "awsdatacatalog"."taglake_staging"."base"),
    in_window as (select * from accepted where landing_date >= cast('2026-10-30' as date))
    select transaction_id from in_window"""
    read = _read(sql, "taglake_staging.base")
    assert read.since == date(2026, 10, 30)
    assert read.columns == frozenset({"transaction_id", "landing_date"})


def test_a_bound_under_or_is_no_bound() -> None:
    sql = f"select amount from {RAW} where {SINCE_20261028} or amount > 0"
    assert _read(sql, "raw_cards.transactions").since is None


@pytest.mark.parametrize(
    "predicate",
    [
        "year * 10000 + month * 100 + day >= 20261028",  # not the macro's form: no bound is read from it
        "(year > 2026 or (year = 2025 and (month > 10 or (month = 10 and day >= 28))))",  # years disagree
        "(year > 2026 or (year = 2026 and (month > 10 or (month = 10 and day > 28))))",  # day not >=
        "(year > 2026 or (year = 2026 and (month > 10 or (month = 10 and day >= 32))))",  # not a date
        "(year > 2026 or (year = 2026 and (day > 10 or (day = 10 and month >= 28))))",  # columns out of order
    ],
)
def test_a_predicate_not_in_the_macros_form_is_no_bound(predicate: str) -> None:
    assert _read(f"select amount from {RAW} where {predicate}", "raw_cards.transactions").since is None


def test_the_macros_form_across_a_year_end_reads_from_its_day() -> None:
    since = "(year > 2025 or (year = 2025 and (month > 12 or (month = 12 and day >= 30))))"
    sql = f"select amount from {RAW} where {since}"
    assert _read(sql, "raw_cards.transactions").since == date(2025, 12, 30)


def test_only_the_columns_used_downstream_are_read_through_select_star() -> None:
    read = _read(DAILY, "raw_cards.transactions")
    assert read.columns == frozenset({"transaction_id", "amount", "year", "month", "day"})


def _estimator(fmt: str) -> Estimator:
    days = {date(2026, 10, d): (10, {"transaction_id": 1_000, "amount": 100, "national_id": 5_000}) for d in (1, 2, 3)}
    if fmt != "parquet":
        days = {d: (rows, {"*": sum(sizes.values())}) for d, (rows, sizes) in days.items()}
    raw = {"raw_cards.transactions": RawTable("raw_cards.transactions", fmt, days)}
    return Estimator(raw, {}, Scale("lake", 100, 3), Scale("big", 1_000, 3), window_days=2)


def test_parquet_scans_only_the_columns_read_and_csv_or_json_the_whole_files() -> None:
    read = _read(f"select amount from {RAW} where {SINCE_20261003}", "raw_cards.transactions")
    run_day = date(2026, 10, 3)
    parquet = _estimator("parquet").read(read, run_day)
    assert parquet["partitions"] == 1
    assert parquet["bytes"] == pytest.approx(100 * 10)  # amount only, ten times the customers
    for fmt in ("csv", "jsonl"):
        whole = _estimator(fmt).read(read, run_day)
        assert whole["bytes"] == pytest.approx(6_100 * 10)


def test_every_query_is_billed_at_least_ten_megabytes() -> None:
    assert Query("tiny", 1).cost_usd == athena_cost_usd(10 * BILLING_MB) > 0
    assert Query("none", 0).cost_usd == Query("tiny", 1).cost_usd
    node = NodeEstimate("m", "model", "table", queries=[Query("a", 1), Query("b", 1)])
    assert node.cost_usd == pytest.approx(2 * athena_cost_usd(0))
    big = 3 * 10 * BILLING_MB
    assert Query("big", big).cost_usd == pytest.approx(3 * athena_cost_usd(0))


def test_the_estimate_of_a_compiled_project_has_per_model_reads_queries_and_totals(tmp_path: Path) -> None:

    def node(name: str, sql: str, kind: str = "model", materialized: str | None = "table") -> CompiledNode:
        return CompiledNode(
            f"{kind}.taglake.{name}",
            kind,
            name,
            f"models/{name}.sql",
            materialized,
            f'"awsdatacatalog"."taglake_staging"."{name}"',
            sql,
            (),
            ("taglake", name),
        )

    nodes = [node("daily", DAILY), node("not_null_daily", f"select 1 from {RAW} where amount is null", "test", "test")]
    compiled = CompiledProject("athena", "athena", {n.unique_id: n for n in nodes}, {}, tmp_path / "unread.json")
    estimator = _estimator("parquet")
    estimates = estimate_nodes(compiled, estimator, date(2026, 10, 28), PARTITIONED, SCHEMA, keys={})
    assert [(e.name, e.resource_type) for e in estimates] == [("daily", "model"), ("not_null_daily", "test")]
    model = estimates[0]
    assert [q.what for q in model.queries] == ["statement", "privacy guard sample (limit)"]
    summary = summarize(estimates)
    assert summary["queries"] == 3 and set(summary["by_kind"]) == {"model", "snapshot", "test"}
    assert summary["cost_usd_per_month"] == pytest.approx(30 * summary["cost_usd_per_run"])
    assert summary["by_kind"]["test"]["nodes"] == 1
    result = {
        "run_day": "2026-10-03",
        "window_days": 5,
        "pricing": {"usd_per_tb": 5.0, "minimum_mb": 10},
        "scales": {
            "big": {
                "customers": 1_000,
                "days": 3,
                "summary": summary,
                "nodes": [
                    {
                        "name": e.name,
                        "resource_type": e.resource_type,
                        "reads": e.reads,
                        "queries": [],
                        "scanned_bytes": e.scanned_bytes,
                        "cost_usd": e.cost_usd,
                    }
                    for e in estimates
                ],
            }
        },
    }
    report = format_athena_report(result)
    assert "scale big: 1,000 customers" in report and "per daily run:" in report and "per month" in report
    assert "transactions 1" in report  # the partitions the model reads
    # a lake the size of a named scale (the large lake and "large") is reported once
    same = {**result, "scales": {"lake": result["scales"]["big"], "big": result["scales"]["big"]}}
    twice = format_athena_report(same)
    assert twice.count("per daily run:") == 1 and twice.count("transactions 1") == 1
    assert twice.endswith("scale big: 1,000 customers, 3 days of history: the size of scale lake, the same estimate")
    # `taglake bench build` prints the estimate its last run made, after its own figures
    build = _build_result()
    build["runs"][-1]["athena"] = result
    assert format_build_report(build).endswith(report)


def test_relations_grow_with_customers_and_with_days_when_they_hold_landing_days() -> None:
    est = Estimator({}, {}, Scale("lake", 100, 10), Scale("big", 1_000, 99), window_days=5)
    assert est.rows(Relation("s.dim", 50, {"a": 1.0}, "model")) == pytest.approx(500)
    assert est.rows(Relation("s.fct", 50, {"a": 1.0}, "model", landing_days=10)) == pytest.approx(5_000)
    assert est.rows(Relation("s.ref", 50, {"a": 1.0}, "seed")) == 50


@pytest.mark.dbt
def test_the_real_daily_sql_of_the_small_lake_reads_a_window_of_card_partitions_and_costs_something(
    built_project: Project, tmp_path: Path
) -> None:
    result = run_athena_estimate(
        built_project,
        lake_dir=built_project.lake_dir,
        db_path=built_project.duckdb_path,
        work_dir=tmp_path,
        scales=["lake", "large"],
    )
    large = result["scales"]["large"]
    nodes = {n["name"]: n for n in large["nodes"]}
    [cards] = [r for r in nodes["base_cards__transactions"]["reads"] if r["relation"] == "raw_cards.transactions"]
    assert cards["partitions"] == result["window_days"] and cards["kind"] == "parquet"
    [crm] = [r for r in nodes["base_crm__customers"]["reads"] if r["relation"] == "raw_crm.customers"]
    # the CRM change extract is incremental by landing partition too (docs/daily-runs.md)
    assert crm["partitions"] == result["window_days"] and crm["columns"] is not None and crm["kind"] == "csv"
    summary = large["summary"]
    assert summary["by_kind"]["model"]["nodes"] > 30 and summary["by_kind"]["test"]["nodes"] > 100
    assert summary["cost_usd_per_run"] > result["scales"]["lake"]["summary"]["cost_usd_per_run"]
    assert summary["cost_usd_per_run"] >= summary["queries"] * athena_cost_usd(0)


def _build_result() -> dict:
    parts = {"creates": 1.0, "tests": 1.0, "guard": 1.0, "other statements": 1.0, "dbt overhead": 1.0}
    build = {"wall_seconds": 10.0, "cpu_seconds": 10.0, "peak_rss_bytes": 2**30}
    build["breakdown"] = {"node_seconds": 5.0, "parts": parts, "top_models": []}
    run = {
        "full_build": build,
        "incremental_build": build,
        "read_everything": {"seconds": 1.0, "tables": {}},
        "full_over_read": 10.0,
        "incremental_share_of_full": 1.0,
    }
    return {"lake": {"path": "/lake"}, "runs": [run], "summary": summarize_build([run])}
