"""The daily run on the local target: a built lake gains a day, the build catches up incrementally, and the result
is what a full refresh gives, whatever happened to the run (re-run, killed part way); snapshots keep the history.

One generated lake and one first build are reused (the session's `built_project`); every build here starts from
a copy of that build's DuckDB file, so the suite pays for one first build only.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from db_tables import copy_db, differing_tables, table_names
from windowed_models import windowed_models

from taglake.cli import main
from taglake.core.artifacts import read_run_results
from taglake.core.project import RUN_CHANGES_ENV, RUN_WINDOW_ENV, Project
from taglake.core.scratch import scratch_project
from taglake.core.sources import project_var
from taglake.lake.generate import append_days
from taglake.ops.daily import run_daily
from taglake.ops.local_build import deps
from taglake.ops.run_ledger import LEDGER_SCHEMA
from taglake.ops.run_window import newest_landings, window_env
from taglake.privacy.dbt_runner import dbt_command, run_dbt

pytestmark = pytest.mark.dbt

INCREMENTAL_MODELS = {
    "taglake_staging.base_cards__transactions",
    "taglake_staging.base_digital__app_events",
    "taglake_staging.stg_cards__transactions",
    "taglake_staging.stg_digital__app_events",
    "taglake_staging.base_crm__customers",
    "taglake_staging.stg_crm__customers",
    "taglake_staging.base_core_banking__accounts",
    "taglake_staging.stg_core_banking__accounts",
    "taglake_staging.base_ml__model_scores",
    "taglake_staging.stg_ml__model_scores",
    "taglake_staging.base_ml__model_outcomes",
    "taglake_staging.stg_ml__model_outcomes",
    "taglake_marts.fct_card_transactions",
    "taglake_marts.fct_app_events",
    # aggregates per customer and month, recomputed for the customer-months a landed transaction falls in
    "taglake_intermediate.int_card_spend_aggregated_monthly",
    # per day, recomputed for the days a landed transaction falls on
    "taglake_intermediate.int_card_spend_aggregated_daily",
    "taglake_marts.fct_customer_monthly_metrics",
    # per customer, recomputed for the customers a landed CRM version, transaction or app event touches
    "taglake_intermediate.int_customer_lifecycle_dated",
    # per token, recomputed for the tokens a landed transaction or app event touches
    "taglake_intermediate.int_customer_usage_dated",
    # per model version and month of its scores, recomputed for the months a landed score falls in
    "taglake_intermediate.int_model_scores_aggregated_monthly",
    "taglake_intermediate.int_model_scores_binned_monthly",
    # per customer, recomputed for the customers whose snapshot history changed
    "taglake_marts.fct_tag_transitions",
    "taglake_marts.dim_customer_attribute_history",
}


@dataclass
class DailyLake:
    work: Path
    lake: Path
    key_file: Path
    day1_db: Path  # the build of the lake before the appended day
    appended: date
    manifest: dict  # the generator's manifest after the append
    incremental: Project  # day 1's build, then `dbt build` after the append

    def project(self, name: str, *, db_from: Path | None) -> Project:
        """A project over the appended lake with its own database (a copy of `db_from`), target/ and logs/."""
        return _project(self.work / name, self.lake, self.key_file, db_from)


def _project(folder: Path, lake: Path, key_file: Path, db_from: Path | None) -> Project:
    folder.mkdir()
    project = Project.locate(
        lake_dir=lake, duckdb_path=folder / "taglake.duckdb", artifacts_dir=folder / "artifacts", key_file=key_file
    )
    if db_from is not None:
        copy_db(db_from, project.duckdb_path)
    return project


# A build whose tables are compared with another's: data and unit tests add nothing to the comparison.
NO_TESTS = ["--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]


@pytest.fixture(scope="module")
def daily(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> DailyLake:
    work = tmp_path_factory.mktemp("daily")
    lake = work / "lake"
    shutil.copytree(built_project.lake_dir, lake)
    manifest = append_days(lake, count=1, progress=False)
    incremental = _project(work / "incremental", lake, built_project.key_file, built_project.duckdb_path)
    # the day as `taglake run-daily` builds it: each incremental model tested and guarded on its landing window
    result = run_daily(incremental, target="local", allow_stale=True, scan=False)
    assert result.ok, result.rows()
    windowed = len(windowed_models(incremental.target_path / "manifest.json"))
    assert windowed > 20
    assert f"tests and guard of {windowed} incremental models on their landing windows" in result.steps[-1].detail
    state = DailyLake(
        work=work,
        lake=lake,
        key_file=built_project.key_file,
        day1_db=built_project.duckdb_path,
        appended=date.fromisoformat(manifest["params"]["last_date"]),
        manifest=manifest,
        incremental=incremental,
    )
    return state


def _query(db: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _compiled_model(project: Project, name: str) -> str:
    (path,) = (project.target_path / "compiled" / "taglake" / "models").rglob(f"{name}.sql")
    return path.read_text(encoding="utf-8")


def _raw_partitions_since(day: date) -> str:
    """The raw partition predicate macros/incremental/landing_window.sql (raw_partitions_since) writes for `day`."""
    y, m, d = day.year, day.month, day.day
    return f"(year > {y} or (year = {y} and (month > {m} or (month = {m} and day >= {d}))))"


def test_the_incremental_build_reads_only_the_new_partitions_and_the_lookback(daily: DailyLake) -> None:
    # The compiled SQL of the incremental run prunes raw partitions to the window: newest day held minus the
    # lookback (3 days), so the base models never rescan the whole lake.
    staging = daily.incremental.target_path / "compiled" / "taglake" / "models" / "staging"
    day1_last = date.fromordinal(daily.appended.toordinal() - 1)
    since = date.fromordinal(day1_last.toordinal() - 3)
    for base in (
        "cards/base/base_cards__transactions.sql",
        "crm/base/base_crm__customers.sql",
        "core_banking/base/base_core_banking__accounts.sql",
    ):
        sql = (staging / base).read_text(encoding="utf-8")
        assert _raw_partitions_since(since) in sql, base
    # The CSV extracts read the list of the window's files instead of their glob (macros/incremental/raw_source.sql:
    # union_by_name would sniff every file of the history first); the Parquet feed keeps its glob.
    for prefix, base in (
        ("crm/customers", "crm/base/base_crm__customers.sql"),
        ("core_banking/accounts", "core_banking/base/base_core_banking__accounts.sql"),
    ):
        sql = (staging / base).read_text(encoding="utf-8")
        listed = re.search(r"read_csv\(\[([^\]]*)\]", sql)
        assert listed is not None and "year=*" not in sql, base
        window = sorted(
            str(path)
            for path in (daily.lake.resolve() / "raw" / prefix).glob("year=*/month=*/day=*/*.csv")
            if date(*(int(part.split("=")[1]) for part in path.parts[-4:-1])) >= since
        )
        assert len(window) == 5 and re.findall(r"'([^']*)'", listed.group(1)) == window, base
    cards = (staging / "cards/base/base_cards__transactions.sql").read_text(encoding="utf-8")
    assert "/year=*/month=*/day=*/*.parquet'" in cards
    # scores and outcomes land on scoring days only: once the lookback has passed their newest partition, their
    # window starts the day after it (the last scoring day is not read again every day until the next one)
    for table in ("model_scores", "model_outcomes"):
        ((newest,),) = _query(daily.day1_db, f"select max(landing_date) from taglake_staging.base_ml__{table}")
        assert newest < since, "the lake's last scoring day is older than the lookback"
        sql = (staging / f"ml/base/base_ml__{table}.sql").read_text(encoding="utf-8")
        assert _raw_partitions_since(newest + timedelta(days=1)) in sql, table


# The card aggregates replaced per group of transaction dates: model → the group a date falls in. Their group is
# computed from transaction_date (a month) or is it (a day); the model filters the feed from the first day of the
# earliest group a window's transaction falls in, read from the staged transactions (month_floor_landed_since,
# earliest_landed_since), not the whole feed.
CARD_SPEND_GROUPS = {
    "int_card_spend_aggregated_monthly": lambda day: day.replace(day=1),
    "int_card_spend_aggregated_daily": lambda day: day,
}


@pytest.mark.parametrize("model", CARD_SPEND_GROUPS)
def test_a_card_spend_aggregate_reads_the_transactions_from_the_earliest_touched_group_on(
    daily: DailyLake, model: str
) -> None:
    compiled = daily.incremental.target_path / "compiled" / "taglake" / "models" / "intermediate" / "cards"
    sql = (compiled / f"{model}.sql").read_text(encoding="utf-8")
    since = re.search(r"where landing_date >= cast\('([0-9-]+)' as date\)", sql)
    assert since is not None, "the incremental run's touched groups are windowed"
    ((earliest,),) = _query(
        daily.incremental.duckdb_path,
        "select min(transaction_date) from taglake_staging.stg_cards__transactions where landing_date >= ?",
        [date.fromisoformat(since.group(1))],
    )
    assert earliest is not None
    floor = CARD_SPEND_GROUPS[model](earliest)
    assert f"where transactions.transaction_date >= cast('{floor.isoformat()}' as date)" in sql


def test_a_table_built_before_its_model_had_a_window_column_is_rebuilt_whole(daily: DailyLake) -> None:
    # A model that became incremental with a window column (landed_through) finds, on its first run after the
    # upgrade, a table without it: the run reads everything, replaces every group, and the column is added.
    project = daily.project("before_window_column", db_from=daily.incremental.duckdb_path)
    table = "taglake_intermediate.int_card_spend_aggregated_daily"
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute(f"alter table {table} drop column landed_through")
        con.execute(f"update {table} set transaction_count = -1")
    select = ["--select", "int_card_spend_aggregated_daily", *NO_TESTS]
    run_dbt(project, ["build", *select], target="local", quiet=True)
    assert _query(project.duckdb_path, f"select count(*) from {table} where transaction_count < 0") == [(0,)]
    assert differing_tables(daily.incremental.duckdb_path, project.duckdb_path, only={table}) == {}


def test_the_monthly_card_tables_are_stored_month_by_month(daily: DailyLake) -> None:
    # A daily run reads and replaces the recent months of the monthly card aggregate and metrics; stored in month
    # order, the older months' storage blocks hold no recent month, and DuckDB skips them (at the large scale the
    # metrics' read of the aggregate went from 6.1 s to 1.4 s). The first build wrote the months before the appended
    # day; the daily run appended its recomputed months after them, in order too.
    db = daily.incremental.duckdb_path
    for table in (
        "taglake_intermediate.int_card_spend_aggregated_monthly",
        "taglake_marts.fct_customer_monthly_metrics",
    ):
        ((steps_back, months),) = _query(
            db,
            "select count(*) filter (where back), count(distinct spend_month) from (select spend_month,"
            f" spend_month < lag(spend_month) over (order by rowid) as back from {table})",
        )
        assert months > 1 and steps_back == 0, f"{table}: its rows in month order"


def _plan_nodes(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    """Every operator of DuckDB's physical plan of `sql`, flattened."""
    ((_, plan),) = con.execute(f"explain (format json) {sql}").fetchall()
    nodes, stack = [], list(json.loads(plan))
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("children", []))
    return nodes


def test_no_model_of_the_daily_run_copies_an_ephemeral_model_whole(daily: DailyLake) -> None:
    # dbt inlines an ephemeral model (int_card_transactions_categorized: the card feed, categorised) as a CTE of its
    # own; read twice, DuckDB materializes it: every row of all history copied before any filter, every day. The
    # plan of each model the daily run compiled must keep every ephemeral CTE inlined.
    compiled = daily.incremental.target_path / "compiled" / "taglake" / "models"
    models = [path for path in compiled.rglob("*.sql") if not any(part.endswith(".yml") for part in path.parts)]
    assert any(path.name == "int_card_spend_aggregated_monthly.sql" for path in models)
    copied = {}
    with duckdb.connect(str(daily.incremental.duckdb_path), read_only=True) as con:
        for path in models:
            ctes = [
                node.get("extra_info", {}).get("CTE Name", "")
                for node in _plan_nodes(con, path.read_text(encoding="utf-8"))
                if node.get("name") == "CTE"
            ]
            copied[path.stem] = [name for name in ctes if name.startswith("__dbt__cte__")]
    assert {model: ctes for model, ctes in copied.items() if ctes} == {}


# (model's folder, model, the staged feed its window reads, the date or timestamp column, the window's days, the
# column's type in the constant)
AS_OF_WINDOWS = {
    "card spend, 90 days": (
        "cards",
        "int_card_spend_windowed",
        "stg_cards__transactions",
        "transaction_date",
        90,
        "date",
    ),
    "app activity, 30 days": (
        "digital",
        "int_app_activity_summarized",
        "stg_digital__app_events",
        "event_at",
        30,
        "timestamp",
    ),
}


@pytest.mark.parametrize("window", AS_OF_WINDOWS.values(), ids=AS_OF_WINDOWS.keys())
def test_an_as_of_window_is_given_to_the_scan_as_constants(
    daily: DailyLake, window: tuple[str, str, str, str, int, str]
) -> None:
    # The spend and app-use windows count back from the calendar's as-of date, a join: DuckDB cannot skip storage
    # blocks by a join's values, so the model also gives the built calendar's window as a constant, which the scan of
    # the staged feed applies (zone maps) instead of reading every row.
    folder, model, feed, column, days, kind = window
    compiled = daily.incremental.target_path / "compiled" / "taglake" / "models" / "intermediate" / folder
    sql = (compiled / f"{model}.sql").read_text(encoding="utf-8")
    ((as_of,),) = _query(
        daily.incremental.duckdb_path, "select as_of_date from taglake_intermediate.int_landing_days_summarized"
    )
    first_day = as_of - timedelta(days=days - 1)
    assert f"{column} >= cast('{first_day.isoformat()}' as {kind})" in sql
    # the small lake spans a fortnight, so DuckDB's statistics prove the bound and drop it: a row dated before the
    # window makes it count
    project = daily.project(f"{model}_window", db_from=daily.incremental.duckdb_path)
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute(
            f"insert into taglake_staging.{feed} select * replace (? as {column}) from taglake_staging.{feed} limit 1",
            [datetime.combine(first_day - timedelta(days=100), datetime.min.time())],
        )
        filters = [
            str(node["extra_info"].get("Filters"))
            for node in _plan_nodes(con, sql)
            if node.get("name", "").strip() == "SEQ_SCAN" and str(node["extra_info"].get("Table", "")).endswith(feed)
        ]
    assert any(f"{column}>='{first_day.isoformat()}" in found for found in filters), filters


def test_the_appended_day_reconciles_exactly_with_the_manifest(daily: DailyLake) -> None:
    rows = _query(
        daily.incremental.duckdb_path,
        "select source_table, sum(raw_rows), sum(accepted_rows), sum(quarantined_rows), max(landing_date) "
        "from taglake_marts.fct_raw_intake_daily group by 1",
    )
    intake = {table: (raw, acc, quar, last) for table, raw, acc, quar, last in rows}
    assert intake["cards.transactions"][3] == daily.appended
    for table, info in daily.manifest["tables"].items():
        raw, _, quarantined, _ = intake[table]
        assert raw == info["rows"], table
        assert quarantined == info["expected"]["quarantined"], table
    stg = _query(
        daily.incremental.duckdb_path,
        "select (select count(*) from taglake_staging.stg_cards__transactions),"
        " (select count(*) from taglake_staging.stg_digital__app_events),"
        " (select count(*) from taglake_staging.stg_crm__customers)",
    )[0]
    tables = daily.manifest["tables"]
    assert stg == (
        tables["cards.transactions"]["expected"]["accepted"],
        tables["digital.app_events"]["expected"]["accepted"],
        tables["crm.customers"]["expected"]["accepted"],
    )


def test_snapshots_hold_the_history_of_a_changed_customer(daily: DailyLake) -> None:
    db = daily.incremental.duckdb_path
    changed = [
        token
        for (token,) in _query(
            db,
            "select customer_token from taglake_staging.stg_crm__customers "
            "where landing_date = ? and customer_since_date < ?",
            [daily.appended, daily.appended],
        )
    ]
    assert changed, "the appended day changed no existing customer: pick a seed whose day does"
    for token in changed:
        versions = _query(
            db,
            "select dbt_valid_from, dbt_valid_to, updated_at from taglake_snapshots.snap_customer_attributes "
            "where customer_token = ? order by dbt_valid_from",
            [token],
        )
        assert len(versions) >= 2
        (old_from, old_to, _), (new_from, new_to, new_updated) = versions[-2], versions[-1]
        assert old_to == new_from == new_updated  # the old version ends when the new one was written
        assert new_to is None and old_from < new_from
        periods = _query(
            db,
            "select count(*), count(*) filter (where is_current) from taglake_marts.dim_customer_attribute_history "
            "where customer_token = ?",
            [token],
        )[0]
        assert periods[1] == 1 and periods[0] >= 1
    # customers the day did not touch keep one version
    untouched = _query(
        db,
        "select count(*) from taglake_snapshots.snap_customer_attributes s "
        "join taglake_staging.stg_crm__customers c using (customer_token) "
        "where c.landing_date < ? group by customer_token having count(*) > 1",
        [daily.appended],
    )
    assert untouched == []


def test_the_tag_history_records_who_entered_and_left_a_tag_on_the_new_day(daily: DailyLake) -> None:
    db = daily.incremental.duckdb_path
    as_of = _query(db, "select max(as_of_date) from taglake_marts.fct_customer_tags")[0][0]
    # Versions are dated by the lake's as-of dates, never by the clock of the run.
    valid_from = {r[0] for r in _query(db, "select distinct dbt_valid_from from taglake_snapshots.snap_customer_tags")}
    assert as_of in valid_from and len(valid_from) == 2
    changed = _query(
        db,
        "select count(*) from taglake_snapshots.snap_customer_tags where dbt_valid_from = ? and dbt_valid_to is null",
        [as_of],
    )[0][0]
    moves = dict(
        _query(
            db,
            "select transition, count(*) from taglake_marts.fct_tag_transitions "
            "where transition_date = ? and not is_first_observation group by 1",
            [as_of],
        )
    )
    first_seen = _query(
        db,
        "select count(*) from (select customer_token, min(dbt_valid_from) as first_from "
        "from taglake_snapshots.snap_customer_tags group by 1) where first_from = ?",
        [as_of],
    )[0][0]
    # Every customer with a new version entered or left at least one tag, unless first seen today.
    assert changed > first_seen
    assert moves.get("entered", 0) + moves.get("left", 0) >= changed - first_seen
    # Each customer's current version is exactly the tags held today.
    current = _query(
        db,
        "select count(*) from taglake_snapshots.snap_customer_tags s "
        "join taglake_marts.customer_tag_profile_v1 p using (customer_token) "
        "where s.dbt_valid_to is null and s.tag_codes is distinct from p.tag_codes",
    )[0][0]
    assert current == 0
    # The population history has both days, and today's equals the tags held today.
    days = _query(
        db, "select as_of_date, sum(tagged_customer_count) from taglake_marts.agg_tag_population_daily group by 1"
    )
    assert len(days) == 2
    held_today = _query(db, "select count(*) from taglake_marts.fct_customer_tags")[0][0]
    assert dict(days)[as_of] == held_today


def test_the_model_score_snapshot_records_new_runs_and_retired_versions(daily: DailyLake) -> None:
    db = daily.incremental.duckdb_path
    runs = _query(
        db,
        "select model_name, model_version, scored_at from taglake_staging.stg_ml__model_scores "
        "group by all order by scored_at",
    )
    last_run = max(scored_at for _, _, scored_at in runs)
    assert last_run.date() == daily.appended, "the appended day is a scoring day (the 1st of a month)"
    by_model: dict[str, list[tuple[str, object]]] = {}
    for model, version, scored_at in runs:
        by_model.setdefault(model, []).append((version, scored_at))
    for model, history in by_model.items():
        (old_version, _), (new_version, _) = history[-2], history[-1]
        current = _query(
            db,
            "select model_version, dbt_is_deleted, count(*) from taglake_snapshots.snap_model_scores "
            "where model_name = ? and dbt_valid_to is null group by all",
            [model],
        )
        states = {(version, deleted) for version, deleted, _ in current}
        assert (new_version, "False") in states
        if old_version != new_version:
            # the retired version's rows are closed by a deletion row, not left looking current
            assert (old_version, "True") in states and (old_version, "False") not in states
        else:
            assert {version for version, _ in states} == {new_version}
            versions = _query(
                db,
                "select count(*) from taglake_snapshots.snap_model_scores where model_name = ? "
                "group by customer_token having count(*) > 1 limit 1",
                [model],
            )
            assert versions, f"{model}: a second run of the same version made no new snapshot rows"


def test_the_latest_score_keeps_the_held_row_where_it_is_later_than_the_windows(daily: DailyLake) -> None:
    # A daily run ranks the window's scores per customer and model and keeps the row the table holds where that is
    # later: a later scoring run, or the same run of a higher version. Four held rows are moved to a landing day
    # before the window (in staging too), and a score of each pair planted in staging on the newest landing day; the
    # run then equals a full refresh of the table from the same staging.
    project = daily.project("latest_score", db_from=daily.incremental.duckdb_path)
    db = project.duckdb_path
    staged, latest = "taglake_staging.stg_ml__model_scores", "taglake_intermediate.int_model_scores_latest"
    columns = "customer_token, model_name, model_version, scored_at"
    held = _query(db, f"select {columns} from {latest} order by customer_token, model_name limit 4")
    ((newest,),) = _query(db, f"select max(landing_date) from {staged}")
    week = timedelta(days=7)
    planted = [
        (held[0], held[0][2], held[0][3] - week),  # an older run of the same version: the held row stays
        (held[1], "0.0.0", held[1][3]),  # the same run, a lower version: the held row stays
        (held[2], "99.0.0", held[2][3]),  # the same run, a higher version: the window's row
        (held[3], held[3][2], held[3][3] + timedelta(hours=1)),  # a later run: the window's row
    ]
    key = "customer_token = ? and model_name = ? and model_version = ? and scored_at = ?"
    with duckdb.connect(str(db)) as con:
        for row in held:
            for table in (staged, latest):
                con.execute(f"update {table} set landing_date = ? where {key}", [newest - timedelta(days=40), *row])
        for (token, model, _, _), version, scored_at in planted:
            con.execute(
                f"insert into {staged} by name select ? as customer_token, ? as model_name, ? as model_version,"
                " ? as scored_at, 0.5 as score, ? as landing_date",
                [token, model, version, scored_at, newest],
            )
    window = window_env(newest_landings(project, "local"))
    select = ["--select", "int_model_scores_latest", *NO_TESTS]
    run_dbt(project, ["build", *select], target="local", quiet=True, extra_env=window)
    assert "as held" in _compiled_model(project, "int_model_scores_latest"), "held rows as late as the window's"
    kept = {
        (token, model): (version, scored_at)
        for token, model, version, scored_at in _query(db, f"select {columns} from {latest}")
    }
    expected = [held[0][2:], held[1][2:], ("99.0.0", held[2][3]), (held[3][2], held[3][3] + timedelta(hours=1))]
    assert [kept[row[:2]] for row in held] == expected

    full = daily.project("latest_score_full", db_from=db)
    run_dbt(full, ["build", "--full-refresh", *select], target="local", quiet=True)
    assert differing_tables(db, full.duckdb_path, only={latest}) == {}


def test_a_scoring_day_leaves_out_the_score_checks_no_held_row_can_match(daily: DailyLake) -> None:
    # On a scoring day every score the tables hold was scored a month before the window's: the staged scores' check
    # that a key was not landed before the window, and the latest score's check that no held row is later, can match
    # nothing, and are left out (held_rows_may_match). The day still equals a full refresh
    # (test_the_incremental_build_equals_a_full_refresh); the two tests below keep each check where it can match.
    db = daily.incremental.duckdb_path
    ((window_first,),) = _query(
        db, "select min(scored_at) from taglake_staging.stg_ml__model_scores where landing_date = ?", [daily.appended]
    )
    ((held_last,),) = _query(
        db, "select max(scored_at) from taglake_staging.stg_ml__model_scores where landing_date < ?", [daily.appended]
    )
    assert held_last < window_first, "the appended day's scores are all later than any score held before it"
    assert "landed_before_window" not in _compiled_model(daily.incremental, "stg_ml__model_scores")
    assert "as held" not in _compiled_model(daily.incremental, "int_model_scores_latest")
    # the other staged feeds, whose keys hold no time, keep their check
    assert "landed_before_window" in _compiled_model(daily.incremental, "stg_cards__transactions")


def test_a_staged_score_landed_before_the_window_and_again_in_it_keeps_its_first_landing(daily: DailyLake) -> None:
    # A score of the appended day that staging already held from a landing before the window (moved there by hand):
    # the run must keep that first landing and not stage the key again, so the first-landed check stays.
    project = daily.project("relanded_score", db_from=daily.incremental.duckdb_path)
    db = project.duckdb_path
    staged = "taglake_staging.stg_ml__model_scores"
    key = "customer_token, model_name, model_version, scored_at"
    ((token, model, version, scored_at),) = _query(
        db, f"select {key} from {staged} where landing_date = ? order by all limit 1", [daily.appended]
    )
    earlier = daily.appended - timedelta(days=40)
    where = "customer_token = ? and model_name = ? and model_version = ? and scored_at = ?"
    with duckdb.connect(str(db)) as con:
        con.execute(f"update {staged} set landing_date = ? where {where}", [earlier, token, model, version, scored_at])
    window = window_env(newest_landings(project, "local"))
    run_dbt(
        project, ["build", "--select", "stg_ml__model_scores", *NO_TESTS], target="local", quiet=True, extra_env=window
    )
    assert "landed_before_window" in _compiled_model(project, "stg_ml__model_scores")
    rows = _query(db, f"select landing_date from {staged} where {where}", [token, model, version, scored_at])
    assert rows == [(earlier,)]
    ((staged_rows,),) = _query(db, f"select count(*) from {staged}")
    ((before,),) = _query(daily.incremental.duckdb_path, f"select count(*) from {staged}")
    assert staged_rows == before


# The quality history is a log of runs (each run adds its own rows under its run id: docs/operations.md), not a
# function of the lake; like the snapshots it is left out of the comparisons of two builds.
RUN_LOG = "taglake_marts.fct_quality_check_results"


def _lake_tables(db: Path) -> set[str]:
    return {name for name in table_names(db) if name != RUN_LOG}


def test_the_incremental_build_equals_a_full_refresh(daily: DailyLake) -> None:
    full = daily.project("full_refresh", db_from=daily.day1_db)
    # the tables are compared, not tested again: the data tests ran on the incremental build
    run_dbt(full, ["build", "--full-refresh", *NO_TESTS], target="local", quiet=True)
    assert table_names(full.duckdb_path) >= INCREMENTAL_MODELS
    # every incremental model exactly, and every other model too; snapshots are history, not rebuilt by a refresh
    tables = {name for name in _lake_tables(full.duckdb_path) if not name.startswith("taglake_snapshots.")}
    assert differing_tables(daily.incremental.duckdb_path, full.duckdb_path, only=tables) == {}
    # the monthly aggregates recomputed only the customer-months the window's transactions fall in, late ones in
    # an earlier month included (what the comparison above proves them exact on)
    compiled = daily.incremental.target_path / "compiled" / "taglake" / "models"
    for path in (
        "intermediate/cards/int_card_spend_aggregated_monthly.sql",
        "marts/customers/fct_customer_monthly_metrics.sql",
    ):
        assert "inner join touched" in (compiled / path).read_text(encoding="utf-8"), path
    ((late_months,),) = _query(
        daily.incremental.duckdb_path,
        "select count(*) from taglake_intermediate.int_card_spend_aggregated_monthly"
        " where landed_through = ? and spend_month < date_trunc('month', landed_through)",
        [daily.appended],
    )
    assert late_months > 0, "a transaction landed on the new day for an earlier month"


def test_the_performance_mart_replaces_whole_each_model_month_a_landing_touched(daily: DailyLake) -> None:
    # agg_model_performance_monthly is replaced per model and month: a month an outcome landed in the window is
    # recomputed whole (a stale version's row goes, wrong counts are put right); a month outside it is not read.
    project = daily.project("group_replace", db_from=daily.day1_db)
    mart = "taglake_marts.agg_model_performance_monthly"
    ((landed,),) = _query(project.duckdb_path, "select max(landing_date) from taglake_staging.stg_ml__model_outcomes")
    ((touched,),) = _query(
        project.duckdb_path,
        "select distinct outcome_month from taglake_staging.stg_ml__model_outcomes where landing_date = ?",
        [landed],
    )
    original = _query(project.duckdb_path, f"select * from {mart} order by all")
    assert original and {r[2] for r in original} == {touched}, "the test lake has one month of outcomes"
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute(f"update {mart} set customer_count = -1")
        retired = f"select * replace ('0.0.0-retired' as model_version) from {mart}"
        con.execute(f"insert into {mart} {retired}")
        # a month no landing of the window touches (none of its scores or outcomes is in the window)
        earlier = f"select * replace (cast(outcome_month - interval 1 month as date) as outcome_month) from {mart}"
        con.execute(f"insert into {mart} {earlier} where model_version <> '0.0.0-retired'")
    # the run's newest landing day just after the outcomes landed: they are in the lookback
    window = window_env({"fct_card_transactions": landed + timedelta(days=1)})
    select = ["--select", "agg_model_performance_monthly", *NO_TESTS]
    run_dbt(project, ["build", *select], target="local", quiet=True, extra_env=window)
    after = _query(project.duckdb_path, f"select * from {mart} order by all")
    assert [r for r in after if r[2] == touched] == [r for r in original if r[2] == touched]
    assert {r[3] for r in after if r[2] != touched} == {-1}, "a month outside the window is left as it was"
    assert len(after) == 2 * len(original)
    # It reads the scores and outcomes from the first of the earliest touched month on (month_floor_landed_since).
    compiled = project.target_path / "compiled" / "taglake" / "models" / "marts" / "model_history"
    sql = (compiled / "agg_model_performance_monthly.sql").read_text(encoding="utf-8")
    since = re.search(r"where\s+landing_date >= cast\('([0-9-]+)' as date\)", sql)
    assert since is not None, "the run's touched months are windowed"
    ((scored, outcome),) = _query(
        project.duckdb_path,
        "select (select min(scored_at) from taglake_staging.stg_ml__model_scores where landing_date >= ?),"
        " (select min(outcome_month) from taglake_staging.stg_ml__model_outcomes where landing_date >= ?)",
        [date.fromisoformat(since.group(1))] * 2,
    )
    floor = min(d.replace(day=1) for d in (scored.date() if scored else None, outcome) if d is not None)
    assert floor <= touched
    assert re.search(rf"where\s+scores_all\.scored_at >= cast\('{floor.isoformat()}' as timestamp\)", sql)
    assert re.search(rf"where\s+outcomes_all\.outcome_month >= cast\('{floor.isoformat()}' as date\)", sql)


def test_the_performance_mart_leaves_a_scored_month_alone_until_its_outcomes_land(daily: DailyLake) -> None:
    # The appended day is a scoring day: its month's scores landed, none of its outcomes yet, so the month gives
    # no row and the daily run does not recompute it. The mart's reads stop before the first day after the newest
    # month an outcome is held for, which the new month is not before: the constant bounds contradict, and DuckDB
    # reads nothing (the equality with a full refresh above holds the rest).
    db = daily.incremental.duckdb_path
    ((newest_outcome,),) = _query(db, "select max(outcome_month) from taglake_staging.stg_ml__model_outcomes")
    ceiling = (newest_outcome.replace(day=1) + timedelta(days=32)).replace(day=1)
    scored_month = daily.appended.replace(day=1)
    assert scored_month >= ceiling, "the test lake holds no outcome for the appended scoring day's month"
    compiled = daily.incremental.target_path / "compiled" / "taglake" / "models" / "marts" / "model_history"
    sql = (compiled / "agg_model_performance_monthly.sql").read_text(encoding="utf-8")
    floor = re.search(r"where\s+scores_all\.scored_at >= cast\('([0-9-]+)' as timestamp\)", sql)
    assert floor is not None, "the daily run's touched months are windowed"
    assert f"and scores_all.scored_at < cast('{ceiling.isoformat()}' as timestamp)" in sql
    assert f"and outcome_month < cast('{ceiling.isoformat()}' as date)" in sql
    assert _query(
        db, "select count(*) from taglake_marts.agg_model_performance_monthly where outcome_month >= ?", [ceiling]
    ) == [(0,)]


# The tables replaced per model version and month of its scores, and the count column each test overwrites.
SCORE_MONTH_TABLES = {
    "int_model_scores_aggregated_monthly": "customer_count",  # drift's counts and mean
    "int_model_scores_binned_monthly": "bin_index",  # the distribution's bins
}


@pytest.mark.parametrize("model", sorted(SCORE_MONTH_TABLES))
def test_the_score_months_aggregates_replace_whole_each_version_month_a_landing_touched(
    daily: DailyLake, model: str
) -> None:
    # int_model_scores_aggregated_monthly and int_model_scores_binned_monthly are replaced per model version and
    # month: a month a score landed in the window is recomputed whole from all of its scores (every bin); a month
    # outside it is not read.
    project = daily.project(f"score_months_{model}", db_from=daily.day1_db)
    table = f"taglake_intermediate.{model}"
    ((landed,),) = _query(project.duckdb_path, "select max(landing_date) from taglake_staging.stg_ml__model_scores")
    touched = {
        month
        for (month,) in _query(
            project.duckdb_path,
            "select distinct cast(date_trunc('month', scored_at) as date) from taglake_staging.stg_ml__model_scores"
            " where landing_date = ?",
            [landed],
        )
    }
    original = _query(project.duckdb_path, f"select * from {table} order by all")
    assert touched and {r[2] for r in original} >= touched
    overwritten = SCORE_MONTH_TABLES[model]
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute(f"update {table} set {overwritten} = -1, score_count = -1")
        # a month no landing of the window touches
        earlier = f"select * replace (cast(score_month - interval 12 month as date) as score_month) from {table}"
        con.execute(f"insert into {table} {earlier}")
    window = window_env({"fct_card_transactions": landed + timedelta(days=1)})
    run_dbt(project, ["build", "--select", model, *NO_TESTS], target="local", quiet=True, extra_env=window)
    after = _query(project.duckdb_path, f"select * from {table} order by all")
    assert [r for r in after if r[2] in touched] == [r for r in original if r[2] in touched]
    untouched = [r for r in after if r[2] not in touched]
    assert untouched and all(r[3] == -1 for r in untouched), "a month outside the window is left as it was"
    # the scores are read from the first of the earliest touched month on
    compiled = project.target_path / "compiled" / "taglake" / "models" / "intermediate" / "ml"
    sql = (compiled / f"{model}.sql").read_text(encoding="utf-8")
    since = re.search(r"where\s+landing_date >= cast\('([0-9-]+)' as date\)", sql)
    assert since is not None, "the run's touched months are windowed"
    ((scored,),) = _query(
        project.duckdb_path,
        "select min(scored_at) from taglake_staging.stg_ml__model_scores where landing_date >= ?",
        [date.fromisoformat(since.group(1))],
    )
    floor = scored.date().replace(day=1)
    assert f"where scores.scored_at >= cast('{floor.isoformat()}' as date)" in sql


def _replaced_per_source_window(
    daily: DailyLake, model: str, table: str, rows: Callable[[dict[str, date]], list[tuple]], why: str
) -> tuple[dict[str, date], str, date]:
    """A model replaced per source and landing partition (its window's rows deleted by a pre-hook and read again from
    the base tables), on a copy of the first day's build: a planted row in crm.customers's window must go (the
    partition no longer gives it) and a planted row landed in 2000 must stay (older partitions are neither read nor
    touched). `rows(newest)` gives the two rows, the stale one first. Returns each source's newest landing date, the
    model's compiled SQL and crm.customers's window start."""
    project = daily.project(model, db_from=daily.day1_db)
    original = _query(project.duckdb_path, f"select * from {table} order by all")
    newest = dict(_query(project.duckdb_path, f"select source_table, max(landing_date) from {table} group by 1"))
    assert {"cards.transactions", "crm.customers"} <= set(newest), "the test lake gives rows of both sources"
    stale, old = rows(newest)
    marks = ", ".join("?" * len(stale))
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.executemany(f"insert into {table} values ({marks})", [stale, old])
    run_dbt(project, ["build", "--select", model, *NO_TESTS], target="local", quiet=True)
    after = _query(project.duckdb_path, f"select * from {table} order by all")
    assert sorted(after, key=repr) == sorted([*original, old], key=repr), why
    [compiled] = (project.target_path / "compiled" / "taglake" / "models").rglob(f"{model}.sql")
    lookback = int(project_var("late_arrival_lookback_days", project.root))
    return newest, compiled.read_text(encoding="utf-8"), newest["crm.customers"] - timedelta(days=lookback)


def test_the_quarantine_replaces_each_sources_window_and_drops_rejects_a_partition_no_longer_has(
    daily: DailyLake,
) -> None:
    # fct_quarantined_rows is replaced per source and landing partition: each source's rows from its window start on
    # are deleted (a pre-hook) and read again from its base table; older ones are neither read nor touched. A
    # partition landed again without rejects (a corrected file) must lose the ones it had: a delete+insert on the
    # partitions the new rows hold would keep them.
    _, sql, start = _replaced_per_source_window(
        daily,
        "fct_quarantined_rows",
        "taglake_marts.fct_quarantined_rows",
        lambda newest: [
            ("crm.customers", newest["crm.customers"], "crm/customers/stale.csv", "missing_required", None, "{}"),
            ("cards.transactions", date(2000, 1, 1), "cards/transactions/old.parquet", "missing_required", None, "{}"),
        ],
        "the window's stale reject went, the old row was not read",
    )
    assert f"where reject_reason is not null and landing_date >= cast('{start.isoformat()}' as date)" in sql


def test_the_raw_row_counts_replace_each_sources_window_and_leave_older_partitions_unread(daily: DailyLake) -> None:
    # int_raw_rows_classified is replaced per source and landing partition as the quarantine is: each source's counts
    # from its window start on are deleted and counted again from its base table (a count the partition no longer
    # gives goes); older counts are neither read nor touched.
    newest, sql, start = _replaced_per_source_window(
        daily,
        "int_raw_rows_classified",
        "taglake_intermediate.int_raw_rows_classified",
        lambda newest: [
            ("crm.customers", newest["crm.customers"], "missing_required", 7),
            ("cards.transactions", date(2000, 1, 1), None, 3),
        ],
        "the window's stale count went, the old count was not read",
    )
    assert f"where landing_date >= cast('{start.isoformat()}' as date)" in sql
    assert sql.count("where landing_date >= cast(") == len(newest), "every source is read from its window start"


def test_a_base_model_replaces_its_whole_window_and_writes_its_rows_once(daily: DailyLake) -> None:
    # A raw-row table replaces every landing date of its window, not only the dates its new rows hold: a partition
    # whose file is gone (re-delivered empty, withdrawn) loses its rows, as a full build would. Older rows are neither
    # read nor touched. On DuckDB the rows go straight from the query into the table (a temporary view, an append),
    # not through a temporary table.
    project = daily.project("base_window", db_from=daily.day1_db)
    table = "taglake_staging.base_ml__model_scores"
    newest = _query(project.duckdb_path, f"select max(landing_date) from {table}")[0][0]
    held = {d for (d,) in _query(project.duckdb_path, f"select distinct landing_date from {table}")}
    gone = newest - timedelta(days=1)
    assert gone not in held, "scores land on scoring days only: the day before the newest has no partition"
    with duckdb.connect(str(project.duckdb_path)) as con:
        (columns,) = con.execute(f"select count(*) from (describe {table})").fetchone()
        row = con.execute(f"select * exclude (landing_date) from {table} limit 1").fetchone()
        con.executemany(
            f"insert into {table} values ({', '.join(['?'] * columns)})", [[*row, gone], [*row, date(2000, 1, 1)]]
        )
    run_dbt(project, ["build", "--select", "base_ml__model_scores", *NO_TESTS], target="local", quiet=True)
    after = dict(_query(project.duckdb_path, f"select landing_date, count(*) from {table} group by 1"))
    expected = dict(_query(daily.incremental.duckdb_path, f"select landing_date, count(*) from {table} group by 1"))
    assert after == {**expected, date(2000, 1, 1): 1}, "the window's stale day went, the old row was not read"
    log = (project.log_path / "dbt.log").read_text(encoding="utf-8", errors="replace")
    assert 'create temporary view "base_ml__model_scores__dbt_tmp' in log
    assert 'create temporary table "base_ml__model_scores__dbt_tmp' not in log
    lookback = int(project_var("late_arrival_lookback_days", project.root))
    start = newest - timedelta(days=lookback)
    assert f"where landing_date >= cast('{start.isoformat()}' as date)" in log


def test_the_lifecycle_recomputes_touched_customers_and_dates_one_it_does_not_hold_from_all_of_their_rows(
    daily: DailyLake,
) -> None:
    # int_customer_lifecycle_dated merges the customers a row landed in the window touches, their card and app dates
    # read from int_customer_usage_dated (which holds every row's dates); a touched customer the table does not hold
    # (a new CRM record) is dated from all of their rows, however early; a customer nothing touched is not rewritten.
    project = daily.project("lifecycle", db_from=daily.day1_db)
    table = "taglake_intermediate.int_customer_lifecycle_dated"
    ((newest,),) = _query(project.duckdb_path, f"select max(landed_through) from {table}")
    since = newest - timedelta(days=int(project_var("late_arrival_lookback_days", project.root)))
    ((unheld,),) = _query(
        project.duckdb_path,
        "select customer_token from taglake_staging.stg_cards__transactions group by 1"
        " having min(landing_date) < ? and max(landing_date) >= ? order by 1 limit 1",
        [since, since],
    )
    ((untouched,),) = _query(
        project.duckdb_path, f"select customer_token from {table} where landed_through < ? order by 1 limit 1", [since]
    )
    original = _query(project.duckdb_path, f"select * from {table} order by all")
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute(f"delete from {table} where customer_token = ?", [unheld])
        con.execute(f"update {table} set last_app_event_date = date '2000-01-01' where customer_token = ?", [untouched])
    run_dbt(project, ["build", "--select", "int_customer_lifecycle_dated", *NO_TESTS], target="local", quiet=True)
    after = _query(project.duckdb_path, f"select * from {table} order by all")
    planted = [r for r in after if r[0] == untouched]
    assert [r[4] for r in planted] == [date(2000, 1, 1)], "a customer nothing touched is left as it was"
    assert [r for r in after if r[0] != untouched] == [r for r in original if r[0] != untouched]
    (recomputed,) = [r for r in after if r[0] == unheld]
    assert recomputed[2] < since, "the customer not held was dated from all of their transactions"
    compiled = project.target_path / "compiled" / "taglake" / "models" / "intermediate" / "customers"
    sql = (compiled / "int_customer_lifecycle_dated.sql").read_text(encoding="utf-8")
    assert "stg_cards__transactions" not in sql and "stg_digital__app_events" not in sql, "the feeds are not read"


def test_usage_dates_merge_the_held_row_with_the_window_rows_of_each_touched_token(daily: DailyLake) -> None:
    # int_customer_usage_dated recomputes the tokens a transaction or an event landed in the window touches, from
    # the row the table holds and the window's rows only (staged rows are never withdrawn): an earlier first
    # transaction planted in the held row of a touched token stays (no row of the window is that early, and the rows
    # before the window are not read again); a token nothing touched is not rewritten; a touched token the table does
    # not hold gets the window's rows alone.
    project = daily.project("usage", db_from=daily.day1_db)
    table = "taglake_intermediate.int_customer_usage_dated"
    ((newest,),) = _query(project.duckdb_path, f"select max(landed_through) from {table}")
    since = newest - timedelta(days=int(project_var("late_arrival_lookback_days", project.root)))
    # tokens with card use landed both before and in the window, the earlier rows holding the earlier first date
    tokens = _query(
        project.duckdb_path,
        "select customer_token, min(case when landing_date >= ? then transaction_date end)"
        " from taglake_staging.stg_cards__transactions group by 1"
        " having min(case when landing_date < ? then transaction_date end)"
        " < min(case when landing_date >= ? then transaction_date end) order by 1 limit 2",
        [since, since, since],
    )
    (touched, _), (unheld, window_first) = tokens
    ((untouched,),) = _query(
        project.duckdb_path, f"select customer_token from {table} where landed_through < ? order by 1 limit 1", [since]
    )
    original = {row[0]: row for row in _query(project.duckdb_path, f"select * from {table}")}
    assert original[unheld][1] < window_first
    planted = "update " + table + " set {} = date '{}' where customer_token = ?"
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute(planted.format("first_transaction_date", "2000-01-01"), [touched])
        con.execute(planted.format("last_app_event_date", "2000-01-02"), [untouched])
        con.execute(f"delete from {table} where customer_token = ?", [unheld])
    run_dbt(project, ["build", "--select", "int_customer_usage_dated", *NO_TESTS], target="local", quiet=True)
    after = {row[0]: row for row in _query(project.duckdb_path, f"select * from {table}")}
    assert after[touched][1] == date(2000, 1, 1), "the held row of a touched token is merged, not re-read"
    assert after[untouched][3] == date(2000, 1, 2), "a token nothing touched is left as it was"
    assert after[unheld][1] == window_first, "a token not held gets the window's rows alone"
    others = set(original) - {touched, untouched, unheld}
    assert {token: after[token] for token in others} == {token: original[token] for token in others}


HISTORY_MARTS = ("taglake_marts.fct_tag_transitions", "taglake_marts.dim_customer_attribute_history")


def _close_and_add_version(
    con: duckdb.DuckDBPyConnection, snapshot: str, token: str, when: datetime, **values: object
) -> None:
    """Close `token`'s current version of `snapshot` at `when` and add a new one copied from it, `values` changed."""
    changed = ", ".join(f"? as {column}" for column in values)
    con.execute(
        f"create temp table new_version as select * replace ({changed}) from {snapshot}"
        " where customer_token = ? and dbt_valid_to is null",
        [*values.values(), token],
    )
    con.execute(
        f"update {snapshot} set dbt_valid_to = ? where customer_token = ? and dbt_valid_to is null", [when, token]
    )
    con.execute(f"insert into {snapshot} by name select * from new_version")
    con.execute("drop table new_version")


def test_the_history_marts_recompute_the_customers_whose_history_changed_as_a_full_refresh_does(
    daily: DailyLake,
) -> None:
    # fct_tag_transitions and dim_customer_attribute_history recompute, from their whole history, the customers
    # whose snapshot history changed since the table was built, and leave every other customer as it was. The
    # changes planted are the awkward ones: a deletion record dated by the run's clock, later than the next as-of
    # date (whose versions must still be picked up), a CRM version closed without a successor (a record withdrawn),
    # and a customer first seen with a version older than any the table holds; then a re-run on an unchanged as-of
    # date that records versions dated on it, and a run that must not re-read the versions it was built from.
    project = daily.project("history_marts", db_from=daily.incremental.duckdb_path)
    db = project.duckdb_path
    tags, attributes = "taglake_snapshots.snap_customer_tags", "taglake_snapshots.snap_customer_attributes"
    transitions, periods = HISTORY_MARTS
    ((as_of,),) = _query(db, f"select max(dbt_valid_from) from {tags}")
    clock = as_of + timedelta(days=30)  # a deletion record's date: the run's clock, after the as-of dates
    closed_at = datetime(clock.year, clock.month, clock.day, 9, 30)  # a CRM version closed by the clock
    ((column,),) = _query(
        db,
        "select column_name from information_schema.columns where table_name = 'snap_customer_tags'"
        " and column_name like 'has_%' order by 1 limit 1",
    )
    withdrawn, moved = (
        token
        for (token,) in _query(
            db, f"select customer_token from {tags} where dbt_valid_to is null and {column} order by 1 limit 2"
        )
    )
    # Tokens are keyed by a key made at setup, so which customers come first differs between machines: the one left
    # alone must have no version dated on the newest as-of date (re-read each run, as that date may be snapshotted
    # again) and no deletion record (recomputed each run), and hold a transition.
    ((untouched,),) = _query(
        db,
        f"select customer_token from {tags} where customer_token not in (?, ?)"
        f" and customer_token in (select customer_token from {transitions}) group by 1"
        " having max(dbt_valid_from) < ? and count(*) filter (where dbt_is_deleted = 'True') = 0 order by 1 limit 1",
        [withdrawn, moved, as_of],
    )
    closed, added, crm_untouched = (
        token
        for (token,) in _query(
            db, f"select customer_token from {attributes} where dbt_valid_to is null order by 1 limit 3"
        )
    )
    ((oldest,),) = _query(db, f"select min(dbt_valid_from) from {attributes}")
    new_customer = hashlib.sha256(b"a customer first seen today").hexdigest()  # a token's shape
    select = ["--select", "fct_tag_transitions", "dim_customer_attribute_history", *NO_TESTS]
    with duckdb.connect(str(db)) as con:
        # a customer withdrawn from the tag profile: their version closed by a deletion record, at the clock
        _close_and_add_version(
            con,
            tags,
            withdrawn,
            clock,
            dbt_valid_from=clock,
            dbt_updated_at=clock,
            dbt_is_deleted="True",
            dbt_scd_id="planted-deletion",
        )
        # a CRM record withdrawn (hard_deletes: invalidate): the current version closed at the clock, no successor
        con.execute(
            f"update {attributes} set dbt_valid_to = ? where customer_token = ? and dbt_valid_to is null",
            [closed_at, closed],
        )
        # a customer each table holds rewritten: left as it is while their history does not change
        con.execute(f"update {transitions} set is_first_observation = null where customer_token = ?", [untouched])
        con.execute(f"update {periods} set district = 'planted' where customer_token = ?", [crm_untouched])
    run_dbt(project, ["build", *select], target="local", quiet=True)
    next_day = as_of + timedelta(days=1)
    with duckdb.connect(str(db)) as con:
        # the next as-of date, before the deletion record's date: a customer loses a tag on it
        _close_and_add_version(
            con,
            tags,
            moved,
            next_day,
            dbt_valid_from=next_day,
            dbt_updated_at=next_day,
            as_of_date=next_day,
            dbt_scd_id="planted-version",
            **{column: False},
        )
        # a customer first seen with a version older than any the table holds (dated by the CRM's updated_at)
        con.execute(
            f"insert into {attributes} by name select * replace (? as customer_token,"
            " ? as dbt_valid_from, ? as updated_at, 'planted-scd' as dbt_scd_id)"
            f" from {attributes} where customer_token = ? and dbt_valid_to is null",
            [new_customer, oldest, oldest, added],
        )
    run_dbt(project, ["build", *select], target="local", quiet=True)

    assert _query(
        db, f"select distinct is_first_observation from {transitions} where customer_token = ?", [untouched]
    ) == [(None,)], "a customer whose tag history did not change is left as it was"
    assert _query(db, f"select distinct district from {periods} where customer_token = ?", [crm_untouched]) == [
        ("planted",)
    ], "a customer whose CRM history did not change is left as it was"
    left = f"select transition_date from {transitions} where customer_token = ? and transition = 'left'"
    assert (clock,) in _query(db, left, [withdrawn])
    assert _query(db, left, [moved]) == [(next_day,)], "a version dated before a deletion record is read"
    last_period = f"select valid_to, is_current from {periods} where customer_token = ? order by period_number desc"
    assert _query(db, last_period, [closed])[0] == (closed_at, False)
    assert len(_query(db, last_period, [new_customer])) == 1

    # A re-run on the same as-of date (next_day, now the newest transition date the table holds): a customer's tags
    # change again, dated that day (their version dated before it closed on it), and a customer first seen in the
    # re-run holds a tag. Both are recomputed.
    ((regained, template),) = _query(
        db,
        f"select min(customer_token), max(customer_token) from {tags} where dbt_valid_to is null and {column}"
        " and customer_token not in (?, ?, ?) and dbt_valid_from < ?",
        [withdrawn, moved, untouched, as_of],
    )
    newcomer = hashlib.sha256(b"a customer first seen in a re-run").hexdigest()
    with duckdb.connect(str(db)) as con:
        _close_and_add_version(
            con,
            tags,
            regained,
            next_day,
            dbt_valid_from=next_day,
            dbt_updated_at=next_day,
            as_of_date=next_day,
            dbt_scd_id="planted-rerun",
            **{column: False},
        )
        con.execute(
            f"insert into {tags} by name select * replace (? as customer_token, ? as dbt_valid_from,"
            " ? as dbt_updated_at, ? as as_of_date, 'planted-newcomer' as dbt_scd_id)"
            f" from {tags} where customer_token = ? and dbt_valid_to is null",
            [newcomer, next_day, next_day, next_day, template],
        )
    run_dbt(project, ["build", *select], target="local", quiet=True)
    assert _query(db, left, [regained]) == [(next_day,)], "a version a re-run dated on the newest date is read"
    entered = f"select transition_date, is_first_observation from {transitions} where customer_token = ?"
    assert (next_day, True) in _query(db, entered, [newcomer]), "a customer first seen in a re-run is read"
    # A version dated on the newest date that the table was built from is not read again: the newcomer's rows,
    # rewritten, stay as they are in the next run (on the first run after a full build, every first version is
    # dated on the newest date: only the customers whose tags changed are recomputed).
    with duckdb.connect(str(db)) as con:
        con.execute(f"update {transitions} set is_first_observation = null where customer_token = ?", [newcomer])
    run_dbt(project, ["build", *select], target="local", quiet=True)
    first_observations = f"select distinct is_first_observation from {transitions} where customer_token = ?"
    assert _query(db, first_observations, [newcomer]) == [(None,)], (
        "a customer first seen on the newest date, already held, is left as it was"
    )
    assert _query(db, first_observations, [untouched]) == [(None,)]

    # Everything else is what a full refresh of the two marts gives from the same histories.
    full = daily.project("history_marts_full", db_from=db)
    run_dbt(full, ["build", "--full-refresh", *select], target="local", quiet=True)
    for build in (db, full.duckdb_path):
        with duckdb.connect(str(build)) as con:
            con.execute(f"delete from {transitions} where customer_token in (?, ?)", [untouched, newcomer])
            con.execute(f"delete from {periods} where customer_token = ?", [crm_untouched])
    assert differing_tables(db, full.duckdb_path, only=set(HISTORY_MARTS)) == {}


def test_re_running_the_same_day_changes_nothing(daily: DailyLake) -> None:
    again = daily.project("rerun", db_from=daily.incremental.duckdb_path)
    result = run_daily(again, target="local", allow_stale=True)  # the synthetic lake ends in the past
    assert [step.name for step in result.steps] == ["source freshness", "build", "scan-pii"]
    assert result.ok, result.rows()
    lake_tables = _lake_tables(again.duckdb_path)
    assert differing_tables(daily.incremental.duckdb_path, again.duckdb_path, only=lake_tables) == {}


def test_a_stale_source_stops_the_daily_run_before_the_build(daily: DailyLake) -> None:
    assert datetime.now(UTC).date() >= daily.appended + timedelta(days=3), "the synthetic lake ends in the past"
    stale = daily.project("stale", db_from=daily.incremental.duckdb_path)
    result = run_daily(stale, target="local")
    assert not result.ok
    assert [step.name for step in result.steps] == ["source freshness"]
    assert "stale" in result.steps[0].detail and "error" not in result.steps[0].detail


KILL_AFTER = re.compile(r"OK created sql incremental model taglake_staging\.stg_cards__transactions")


def test_a_build_killed_part_way_then_rerun_ends_as_an_uninterrupted_one(daily: DailyLake) -> None:
    killed = daily.project("killed", db_from=daily.day1_db)
    deps(killed, target="local", quiet=True)  # nothing to install while packages.yml declares none
    proc = subprocess.Popen(
        dbt_command("build"),
        cwd=killed.root,
        env=killed.dbt_env("local"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    finished_lines = []
    deadline = time.monotonic() + 300
    assert proc.stdout is not None
    for line in proc.stdout:
        if " OK " in line or " PASS " in line:
            finished_lines.append(line)
        if KILL_AFTER.search(line) or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "the build finished before it could be killed"
    assert finished_lines, "killed before any model finished"
    # part of the day is in (staging), part is not (the facts); the next run catches up (its tables are compared)
    run_dbt(killed, ["build", *NO_TESTS], target="local", quiet=True)
    assert (
        differing_tables(
            daily.incremental.duckdb_path, killed.duckdb_path, only=_lake_tables(killed.duckdb_path), run_time_free=True
        )
        == {}
    )


def test_snapshots_read_masked_relations_only_and_are_checked_by_the_privacy_guard(dbt_manifest: dict) -> None:
    snapshots = [n for n in dbt_manifest["nodes"].values() if n["resource_type"] == "snapshot"]
    assert {n["name"] for n in snapshots} == {"snap_customer_attributes", "snap_model_scores", "snap_customer_tags"}
    for node in snapshots:
        assert any("privacy_guard()" in hook["sql"] for hook in node["config"]["post-hook"]), node["name"]
        upstream = node["depends_on"]["nodes"]
        # masked intermediate models or marts: never a source, a staging model or the vault
        assert upstream and all(uid.startswith("model.taglake.") for uid in upstream), upstream
        assert not any(uid.split(".")[2].startswith(("base_", "stg_", "vault_")) for uid in upstream), upstream
        assert node["config"]["hard_deletes"] in ("invalidate", "new_record")


def test_model_drift_is_the_psi_of_each_month_against_the_versions_first_month(daily: DailyLake) -> None:
    # Recomputed in Python from the accepted scores: 10 equal bins of [0, 1], empty bins at 0.0001.
    db = daily.incremental.duckdb_path
    scores = _query(db, "select model_name, model_version, scored_at, score from taglake_staging.stg_ml__model_scores")
    counts: dict[tuple[str, str], dict[date, list[int]]] = {}
    for model, version, scored_at, score in scores:
        month = scored_at.date().replace(day=1)
        bins = counts.setdefault((model, version), {}).setdefault(month, [0] * 10)
        bins[min(int(score * 10), 9)] += 1
    expected = {}
    for (model, version), months in counts.items():
        first = min(months)
        base = [max(n / sum(months[first]), 1e-4) for n in months[first]]
        for month, bins in months.items():
            actual = [max(n / sum(bins), 1e-4) for n in bins]
            expected[(model, version, month)] = sum(
                (a - e) * math.log(a / e) for a, e in zip(actual, base, strict=True)
            )
    drift = {
        (model, version, month): psi
        for model, version, month, psi in _query(
            db, "select model_name, model_version, score_month, psi from taglake_marts.agg_model_score_drift_monthly"
        )
    }
    assert drift.keys() == expected.keys()
    assert any(len(months) > 1 for months in counts.values()), "no version scored in two months: no drift"
    for key, psi in drift.items():
        assert psi == pytest.approx(expected[key], abs=1e-8), key


# ---- the daily run's window: what its data tests and the privacy guard check ------------------------------------


def _statuses(project: Project) -> dict[str, str]:
    """Each node's status in the last run_results.json, by name (a test's name, a model's)."""
    results = read_run_results(project.target_path / "run_results.json").results
    return {r.unique_id.split(".")[2]: r.status.value for r in results}


def _compiled_test(project: Project, prefix: str) -> str:
    compiled = project.target_path / "compiled" / "taglake" / "models"
    (path,) = [p for p in compiled.rglob(f"{prefix}*.sql")]
    return path.read_text(encoding="utf-8")


def test_the_daily_runs_tests_check_the_landing_window_and_a_full_build_the_whole_table(
    daily: DailyLake, built_project: Project
) -> None:
    since = daily.appended - timedelta(days=1 + 3)  # the newest day held before the run, minus the lookback
    window = f"landing_date >= cast('{since.isoformat()}' as date)"
    rows = _compiled_test(daily.incremental, "column_values_stg_cards__transactions")
    assert window in rows
    keys = _compiled_test(daily.incremental, "unique_stg_cards__transactions_transaction_id")
    # a key test reads every row of each key landed in the window, over the whole table
    # (on DuckDB a semi join to the window's keys: each tested row once, without grouping the keys first)
    assert "semi join (" in keys and "select transaction_id from" in keys and window in keys
    # an aggregate replaced per group is windowed by its landed_through (the runner's window column for it)
    aggregate = "int_card_spend_aggregated_monthly"
    through = f"(landed_through >= cast('{since.isoformat()}' as date) or landed_through is null)"
    assert through in _compiled_test(daily.incremental, f"column_values_{aggregate}")
    compiled = daily.incremental.target_path / "compiled" / "taglake" / "models"
    (keys,) = [  # dbt names a long test's file by a hash
        sql
        for path in compiled.rglob("unique_combination_of_columns_*.sql")
        if f'"{aggregate}"' in (sql := path.read_text(encoding="utf-8"))
    ]
    assert "semi join (" in keys and through in keys
    # the window's few rows are grouped by the key itself (reading the window's join twice would cost more)
    assert "repeated_key_hashes" not in keys
    assert "repeated_key_hashes" not in _compiled_test(
        daily.incremental, "unique_stg_cards__transactions_transaction_id"
    )
    # a full build (no window passed) tests every row, a key test by hash first (macros/engines/repeated_keys.sql)
    for prefix in (
        "column_values_stg_cards__transactions",
        "unique_stg_cards__transactions_transaction_id",
        "column_values_int_card_spend_aggregated_monthly",
    ):
        sql = _compiled_test(built_project, prefix)
        assert "where 1=1" in sql and "landing_date >=" not in sql, prefix
        assert ("repeated_key_hashes" in sql) == prefix.startswith("unique_"), prefix


def test_windowed_tests_catch_an_old_key_repeated_and_a_null_on_the_new_day(daily: DailyLake) -> None:
    project = daily.project("planted_rows", db_from=daily.incremental.duckdb_path)
    since = daily.appended - timedelta(days=1 + 3)
    table = "taglake_staging.stg_cards__transactions"
    with duckdb.connect(str(project.duckdb_path)) as con:
        old_keys = [
            key
            for (key,) in con.execute(
                f"select transaction_id from {table} where landing_date < ? order by transaction_id limit 2", [since]
            ).fetchall()
        ]
        assert len(old_keys) == 2, "the first build holds rows older than the window"
        # the new day repeats a key first landed days before the window
        con.execute(
            f"insert into {table} select * replace (cast(? as date) as landing_date) from {table} "
            "where transaction_id = ?",
            [daily.appended, old_keys[0]],
        )
        # a row of the new day lost its TWD amount
        con.execute(
            f"update {table} set amount_twd = null where transaction_id = "
            f"(select min(transaction_id) from {table} where landing_date = ?)",
            [daily.appended],
        )
        # an old row outside the window breaks a rule: only a test of the whole table sees it
        con.execute(f"update {table} set channel = 'bogus' where transaction_id = ?", [old_keys[1]])
    select = ["--select", "stg_cards__transactions", "--exclude-resource-type", "unit_test"]
    before = {"stg_cards__transactions": daily.appended - timedelta(days=1)}  # what the runner read
    run_dbt(project, ["test", *select], target="local", check=False, quiet=True, extra_env=window_env(before))
    windowed = _statuses(project)
    assert windowed["unique_stg_cards__transactions_transaction_id"] == "fail"
    assert windowed["column_values_stg_cards__transactions"] == "fail"
    # the quality history splits the merged test into its checks, each with its own count of the window's rows
    checks = _checks_recorded(project)
    assert checks["not_null_stg_cards__transactions_amount_twd"] == ("fail", 1)
    assert checks["accepted_values_stg_cards__transactions_channel"] == ("pass", 0)  # outside the window
    assert checks["not_null_stg_cards__transactions_customer_token"] == ("pass", 0)
    run_dbt(project, ["test", *select], target="local", check=False, quiet=True)
    whole = _statuses(project)
    assert whole["column_values_stg_cards__transactions"] == "fail"
    assert whole["unique_stg_cards__transactions_transaction_id"] == "fail"
    checks = _checks_recorded(project)
    assert checks["accepted_values_stg_cards__transactions_channel"] == ("fail", 1)
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        (nulls,) = con.execute(f"select count(*) from {table} where amount_twd is null").fetchone()
    assert nulls >= 1 and checks["not_null_stg_cards__transactions_amount_twd"] == ("fail", nulls)


def test_a_windowed_key_test_catches_a_repeated_key_with_a_null_part(daily: DailyLake) -> None:
    # The window's keys are joined to the table on `=` (DuckDB then filters the table's scan by them), and a key
    # with a null part, which `=` never matches, null-safely: a composite key repeated with a null in it still fails.
    project = daily.project("planted_null_key", db_from=daily.incremental.duckdb_path)
    table = "taglake_intermediate.int_card_spend_aggregated_monthly"
    key = "customer_token, spend_month, spend_category, channel"
    with duckdb.connect(str(project.duckdb_path)) as con:
        ((before,),) = con.execute(f"select max(landed_through) from {table}").fetchall()
        # an old row's country lost, and the same key (with its null) again on the newest landing day
        con.execute(
            f"create temp table old_row as select * from {table} where landed_through < ? "
            f"order by {key}, merchant_country_code limit 1",
            [before - timedelta(days=10)],
        )
        assert con.execute("select count(*) from old_row").fetchone() == (1,)
        con.execute(
            f"update {table} set merchant_country_code = null where ({key}, merchant_country_code) in "
            f"(select {key}, merchant_country_code from old_row)"
        )
        con.execute(
            f"insert into {table} select * replace (null as merchant_country_code, cast(? as date) as landed_through)"
            " from old_row",
            [before],
        )
    select = ["--select", "int_card_spend_aggregated_monthly", "--exclude-resource-type", "unit_test"]
    window = window_env({"int_card_spend_aggregated_monthly": before})
    run_dbt(project, ["test", *select], target="local", check=False, quiet=True, extra_env=window)
    statuses = {name: status for name, status in _statuses(project).items() if name.startswith("unique_combination")}
    assert list(statuses.values()) == ["fail"], statuses
    assert "union all" in _compiled_test(project, "unique_combination_of_columns_")


def _checks_recorded(project: Project) -> dict[str, tuple[str, int | None]]:
    """The quality history's rows of the last run (its invocation id): status and failing rows by check name."""
    run_id = read_run_results(project.target_path / "run_results.json").metadata.invocation_id
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        rows = con.execute(
            "select check_name, status, failing_rows from taglake_marts.fct_quality_check_results where run_id = ?",
            [str(run_id)],
        ).fetchall()
    return {name: (status, failing) for name, status, failing in rows}


def test_the_row_count_of_a_daily_run_covers_the_window_on_both_sides(daily: DailyLake, built_project: Project) -> None:
    since = daily.appended - timedelta(days=1 + 3)
    name = "row_count_equals_source_base_crm__customers_crm__customers"
    counted = _compiled_test(daily.incremental, name)
    assert f"landing_date >= cast('{since.isoformat()}' as date)" in counted
    assert _raw_partitions_since(since) in counted
    # the raw side read as the base model reads it: the window's files listed, not a glob sniffing every file
    assert "read_csv([" in counted and "year=*" not in counted
    whole = _compiled_test(built_project, name)
    assert "landing_date >=" not in whole and "year >" not in whole
    # a row lost from the window fails the windowed count; one lost before it only the whole-table count
    project = daily.project("row_count", db_from=daily.incremental.duckdb_path)
    table = "taglake_staging.base_crm__customers"
    select = ["--select", "base_crm__customers,test_name:row_count_equals_source"]
    window = window_env({"base_crm__customers": daily.appended - timedelta(days=1)})
    landed = f"select min(landing_date), max(landing_date) from {table}"
    [(oldest, newest)] = _query(daily.incremental.duckdb_path, landed)
    assert oldest < since <= newest
    for lost_on, windowed_status in ((oldest, "pass"), (newest, "fail")):
        copy_db(daily.incremental.duckdb_path, project.duckdb_path)
        with duckdb.connect(str(project.duckdb_path)) as con:
            con.execute(
                f"delete from {table} where rowid = (select min(rowid) from {table} where landing_date = ?)", [lost_on]
            )
        run_dbt(project, ["test", *select], target="local", check=False, quiet=True, extra_env=window)
        assert _statuses(project)[name] == windowed_status, lost_on
        run_dbt(project, ["test", *select], target="local", check=False, quiet=True)
        assert _statuses(project)[name] == "fail", lost_on


# A guard that the throwaway copy lets personal data through: staging passes free text on untreated (the checkout
# masks it; docs/privacy.md), so that what reaches the incremental models is what the privacy guard must find.
LEAKY_FREE_TEXT = "{% macro guarded_text(expr) -%}{{ expr }}{%- endmacro %}\n"
PLANTED_MOBILE = "0912345678"


def test_the_guard_of_a_daily_run_checks_every_row_the_run_wrote(daily: DailyLake, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(daily.lake, lake)
    day = daily.appended
    (events,) = (lake / "raw" / "digital" / "app_events" / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}").glob(
        "*.jsonl"
    )
    lines = events.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    record["event_id"] = "0000000a-0000-4000-8000-000000000001"  # a new event of the new day
    record["device"]["device_model"] = PLANTED_MOBILE
    planted = json.dumps(record, separators=(",", ":"))
    events.write_text("\n".join([*lines, planted]) + "\n", encoding="utf-8")
    leaky = scratch_project(
        _project(tmp_path / "base", lake, daily.key_file, None),
        tmp_path / "leaky",
        macros={"leaky_free_text.sql": LEAKY_FREE_TEXT},
        drop_macros=("guarded_text",),
    )
    # a sample of one row: the first, from the first build; the planted row is the new day's, far beyond it
    one_row = ["--vars", "{privacy_guard: {sample_rows: 1}}"]
    copy_db(daily.day1_db, leaky.duckdb_path)
    sampled = run_dbt(
        leaky,
        ["build", "--select", "base_digital__app_events", *NO_TESTS, *one_row],
        target="local",
        check=False,
        quiet=True,
    )
    assert sampled == 0, "the first-rows sample reached the planted row: plant it later"
    copy_db(daily.day1_db, leaky.duckdb_path)
    result = run_daily(leaky, target="local", allow_stale=True, scan=False, build_args=one_row)
    assert not result.ok and result.steps[-1].name == "build"
    results = read_run_results(leaky.target_path / "run_results.json").results
    (failed,) = [r for r in results if r.unique_id == "model.taglake.base_digital__app_events"]
    assert failed.status.value == "error"
    assert "privacy guard" in (failed.message or "") and "device_model" in (failed.message or "")
    assert PLANTED_MOBILE not in (failed.message or "")


def test_the_guard_of_a_group_replaced_aggregate_checks_the_rows_its_window_gave_new_content(daily: DailyLake) -> None:
    # An aggregate replaced per group has no landing date: its window column is landed_through, which the runner
    # read before the build; the guard's content check reads the rows from the window's start by it, not a sample.
    log = (daily.incremental.log_path / "dbt.log").read_text(encoding="utf-8", errors="replace")
    for relation in (
        '"taglake_intermediate"."int_card_spend_aggregated_monthly"',
        '"taglake_marts"."fct_customer_monthly_metrics"',
        '"taglake_marts"."agg_model_performance_monthly"',
    ):
        checked = re.findall(rf"from \(select \* from \"taglake\".{re.escape(relation)} (.*?)\) as sampled", log)
        assert checked, relation
        assert all(
            re.fullmatch(r"where \(landed_through >= cast\('[0-9-]+' as date\) or landed_through is null\)", c)
            for c in checked
        ), checked


FIRST_LANDED = {
    "stg_cards__transactions",
    "stg_digital__app_events",
    "stg_ml__model_scores",
    "stg_ml__model_outcomes",
    "fct_card_transactions",
    "fct_app_events",
}


WINDOW = r"landing_date >= cast\('([0-9-]+)' as date\)"


def test_a_first_landed_feed_replaces_its_window_and_writes_its_rows_once(daily: DailyLake) -> None:
    # A staged feed keeps each key's first landing (and its fact reads it from there), so every row a run's key can
    # replace was landed in the model's window: on DuckDB a pre-hook deletes the window's rows and the run's rows are
    # appended straight from the query (a temporary view, no temporary table they are copied through).
    # A model whose key can move to a newer landing (the latest score per customer) deletes on the key alone.
    # test_the_incremental_build_equals_a_full_refresh checks that the rows are still those of a full build.
    log = (daily.incremental.log_path / "dbt.log").read_text(encoding="utf-8", errors="replace")
    window_delete = r"delete from \"taglake\"\.\"taglake_\w+\"\.\"(\w+)\" where " + WINDOW
    deletes = dict(re.findall(window_delete, log))
    for name in FIRST_LANDED:
        assert name in deletes, f"{name}: its window is not deleted in the daily run"
        window = re.search(r"where " + WINDOW, _compiled_model(daily.incremental, name))
        assert window is not None and deletes[name] == window.group(1), f"{name}: the delete's window is the model's"
        assert f'create temporary view "{name}__dbt_tmp' in log, name
        assert f'create temporary table "{name}__dbt_tmp' not in log, name
    keyed = r"delete from \"taglake\"\.\"taglake_\w+\"\.\"(\w+)\" as DBT_INCREMENTAL_TARGET(.*?);"
    keyed_deletes = dict(re.findall(keyed, log, re.S))
    assert not set(keyed_deletes) & FIRST_LANDED
    assert "int_model_scores_latest" in keyed_deletes
    assert "landing_date >=" not in keyed_deletes["int_model_scores_latest"]


def test_only_the_runner_sets_the_window(daily: DailyLake, monkeypatch: pytest.MonkeyPatch) -> None:
    env = window_env({"x": daily.appended, "a": daily.appended - timedelta(days=2)})
    assert json.loads(env[RUN_WINDOW_ENV]) == {
        "a": (daily.appended - timedelta(days=2)).isoformat(),
        "x": daily.appended.isoformat(),
    }
    assert env["DBT_EXCLUDE_RESOURCE_TYPES"] == "unit_test"  # a scheduled day does not repeat the unit tests
    assert RUN_WINDOW_ENV not in window_env({})  # no window: whole tables
    # a window in the caller's environment never reaches dbt through taglake: only the runner sets it
    monkeypatch.setenv(RUN_WINDOW_ENV, '{"base_cards__transactions": "2999-01-01"}')
    monkeypatch.setenv(RUN_CHANGES_ENV, '{"base_cards__transactions": null}')
    env = daily.project("env_window", db_from=None).dbt_env("local")
    assert RUN_WINDOW_ENV not in env and RUN_CHANGES_ENV not in env


def test_run_window_prints_the_window_run_daily_gives_its_build(
    daily: DailyLake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # what a scheduler running dbt itself (the MWAA DAG's run_window task) passes its build as TAGLAKE_RUN_WINDOW
    project = daily.incremental
    for name, value in {
        "TAGLAKE_DUCKDB_PATH": project.duckdb_path,
        "DBT_TARGET_PATH": project.target_path,
        "TAGLAKE_LAKE_DIR": project.lake_dir,
        "TAGLAKE_KEY_FILE": project.key_file,
    }.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.delenv("TAGLAKE_TARGET", raising=False)
    assert main(["run-window"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = newest_landings(project, "local")
    assert printed == json.loads(window_env(expected)[RUN_WINDOW_ENV])
    assert set(printed) == windowed_models(project.target_path / "manifest.json")
    assert max(printed.values()) == daily.appended.isoformat()
    # another engine's tables are not read from the local file: every table checked whole
    assert main(["run-window", "--target", "athena"]) == 0
    assert capsys.readouterr().out.strip() == "{}"
    # before a first build: no database, no window
    monkeypatch.setenv("TAGLAKE_DUCKDB_PATH", str(daily.work / "not_built.duckdb"))
    assert main(["run-window"]) == 0
    assert capsys.readouterr().out.strip() == "{}"


@pytest.mark.fresh_process
def test_a_new_window_each_day_keeps_dbts_partial_parse(daily: DailyLake) -> None:
    # The window is read while nodes execute, never while dbt parses: a new day's window leaves dbt's partial parse
    # valid (a --vars value, the earlier way, made every daily run parse every file again: ~10 s at medium scale).
    project = daily.project("partial_parse", db_from=daily.day1_db)
    compile_test = ["compile", "--select", "test_name:relationships,fct_card_transactions"]
    log = project.log_path / "dbt.log"
    compiled, logged = [], []
    for newest in (date(2026, 10, 10), date(2026, 10, 20)):
        start = log.stat().st_size if log.is_file() else 0
        window = window_env({"fct_card_transactions": newest})
        assert run_dbt(project, compile_test, target="local", check=False, quiet=True, extra_env=window) == 0
        raw = json.loads((project.target_path / "run_results.json").read_text(encoding="utf-8"))
        compiled.append(" ".join(r.get("compiled_code") or "" for r in raw["results"]))
        logged.append(log.read_bytes()[start:].decode("utf-8", "replace"))
    # each compile checks its own window (the newest landing minus the 3-day lookback) ...
    assert "cast('2026-10-07' as date)" in compiled[0] and "cast('2026-10-17' as date)" in compiled[1]
    # ... and the second reused the first's parse
    assert "Partial parsing enabled" in logged[1] and "Unable to do partial parsing" not in logged[1]


def test_a_sparse_feeds_window_stops_at_its_last_landing_once_the_lookback_has_passed_it(daily: DailyLake) -> None:
    # Every window is counted back from the run's newest landing day (the newest any model held): a daily feed's
    # is its lookback, and a feed that landed last on an older day starts the day after it, not at it minus the
    # lookback (scores land on scoring days only: that partition would be re-read every day until the next one).
    project = daily.project("sparse_window", db_from=daily.day1_db)
    compile_test = ["compile", "--select", "column_values_stg_ml__model_scores"]
    scored = date(2026, 10, 1)
    expected = {
        date(2026, 10, 20): "2026-10-02",  # the lookback (10-17 on) has passed the scoring day: the day after it
        date(2026, 10, 3): "2026-09-30",  # the scoring day is in the lookback: re-read, as any feed's
        scored: "2026-09-28",  # the scoring feed is the newest: the lookback from it
    }
    for newest_of_the_run, start in expected.items():
        window = window_env({"stg_ml__model_scores": scored, "fct_card_transactions": newest_of_the_run})
        assert run_dbt(project, compile_test, target="local", check=False, quiet=True, extra_env=window) == 0
        raw = json.loads((project.target_path / "run_results.json").read_text(encoding="utf-8"))
        (compiled,) = [r.get("compiled_code") or "" for r in raw["results"]]
        assert re.findall(r"cast\('([0-9-]+)' as date\)", compiled) == [start], newest_of_the_run


def test_a_window_the_model_does_not_rewrite_stops_it_before_it_writes(daily: DailyLake) -> None:
    # A later newest landing than the table holds (typed by hand, or a table that moved on since the runner read
    # it) would let the guard and the tests skip rows this run writes: the model refuses it.
    project = daily.project("wrong_window", db_from=daily.day1_db)
    wrong = window_env({"base_cards__transactions": daily.appended})
    select = ["--select", "base_cards__transactions", *NO_TESTS]
    code = run_dbt(project, ["build", *select], target="local", check=False, quiet=True, extra_env=wrong)
    assert code != 0
    results = read_run_results(project.target_path / "run_results.json").results
    (result,) = [r for r in results if r.unique_id == "model.taglake.base_cards__transactions"]
    assert result.status.value == "error" and "TAGLAKE_RUN_WINDOW" in (result.message or "")
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        newest = con.execute("select max(landing_date) from taglake_staging.base_cards__transactions").fetchone()
    assert newest == (daily.appended - timedelta(days=1),), "the model wrote nothing"


def test_the_changed_partitions_start_a_window_between_the_lookback_and_the_day_after_the_newest(
    daily: DailyLake,
) -> None:
    # With the runner's ledger (taglake.ops.run_ledger) a model's window starts at the earliest raw partition that
    # changed upstream of it since the last run that passed, bounded by the lookback and the day after its newest.
    project = daily.project("changed_window", db_from=daily.day1_db)
    compile_test = ["compile", "--select", "column_values_stg_ml__model_scores"]
    newest, anchor = date(2026, 10, 19), date(2026, 10, 20)  # the lookback: 10-17 on
    expected = {
        None: "2026-10-20",  # nothing upstream changed: only what lands after the newest it holds
        date(2026, 10, 18): "2026-10-18",  # a late file in a partition already read: from it
        date(2026, 10, 2): "2026-10-17",  # never before the lookback's first day
        date(2026, 10, 25): "2026-10-20",  # never after the day after the newest it holds
    }
    for changed, start in expected.items():
        window = window_env(
            {"stg_ml__model_scores": newest, "fct_card_transactions": anchor}, {"stg_ml__model_scores": changed}
        )
        assert json.loads(window[RUN_CHANGES_ENV]) == {"stg_ml__model_scores": changed and changed.isoformat()}
        assert run_dbt(project, compile_test, target="local", check=False, quiet=True, extra_env=window) == 0
        raw = json.loads((project.target_path / "run_results.json").read_text(encoding="utf-8"))
        (compiled,) = [r.get("compiled_code") or "" for r in raw["results"]]
        assert re.findall(r"cast\('([0-9-]+)' as date\)", compiled) == [start], changed
    # not a date: one line naming the variable and the model
    window = window_env({"stg_ml__model_scores": newest}, {"stg_ml__model_scores": date(2026, 10, 18)})
    window[RUN_CHANGES_ENV] = '{"stg_ml__model_scores": "yesterday"}'
    assert run_dbt(project, compile_test, target="local", check=False, quiet=True, extra_env=window) != 0
    log = (project.log_path / "dbt.log").read_text(encoding="utf-8")
    assert "TAGLAKE_RUN_CHANGES: stg_ml__model_scores is not a date (YYYY-MM-DD) or null" in log


@dataclass
class LedgerRuns:
    appended: date  # the second appended day
    narrowed: Project  # run_daily from the first daily run's database, which holds its ledger
    lookback: Project  # the same run from the same database without the ledger
    details: tuple[str, str]


def _rewrite_csv(path: Path, *, split_to: Path | None = None) -> None:
    """Rewrite a CSV extract with its last row delivered twice (a re-delivery: base keeps both, staging collapses
    them), or with its last row moved to a new file of the same partition (a late file)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) >= 2 and lines[-1].endswith("\n"), path.name  # a header and a row at least
    if split_to is None:
        path.write_text("".join(lines) + lines[-1], encoding="utf-8")
    else:
        path.write_text("".join(lines[:-1]), encoding="utf-8")
        split_to.write_text(lines[0] + lines[-1], encoding="utf-8")


def _partition(lake: Path, prefix: str, day: date) -> Path:
    return lake / "raw" / prefix / f"year={day.year}" / f"month={day.month:02d}" / f"day={day.day:02d}"


def _late_file_name(appended: date) -> str:
    return f"accounts_{appended:%Y%m%d}.csv"


def _late_file_path(appended: date) -> str:
    """The late accounts file under its table's folder: in the partition of the day before it was written."""
    day = appended - timedelta(days=1)
    return f"year={day.year}/month={day.month:02d}/day={day.day:02d}/{_late_file_name(appended)}"


@pytest.fixture(scope="module")
def ledger_runs(daily: DailyLake) -> LedgerRuns:
    lake = daily.work / "lake_ledger"
    shutil.copytree(daily.lake, lake)
    appended = date.fromisoformat(append_days(lake, count=1, progress=False)["params"]["last_date"])
    # after the last run that passed: a CRM file two days back rewritten (a row delivered again), and a late
    # accounts file in yesterday's partition (its last row moved out of the day's extract)
    (crm,) = _partition(lake, "crm/customers", appended - timedelta(days=2)).glob("*.csv")
    _rewrite_csv(crm)
    (accounts,) = _partition(lake, "core_banking/accounts", appended - timedelta(days=1)).glob("*.csv")
    # named in the declared form for the day it was written (any other name is kept as a marker, not a name)
    _rewrite_csv(accounts, split_to=accounts.with_name(_late_file_name(appended)))
    runs = []
    for name, keep_ledger in (("ledger_narrowed", True), ("ledger_lookback", False)):
        project = _project(daily.work / name, lake, daily.key_file, daily.incremental.duckdb_path)
        if not keep_ledger:
            with duckdb.connect(str(project.duckdb_path)) as con:
                con.execute(f"drop schema {LEDGER_SCHEMA} cascade")
        result = run_daily(project, target="local", allow_stale=True, scan=False)
        assert result.ok, result.rows()
        runs.append((project, result.steps[-1].detail))
    return LedgerRuns(appended, runs[0][0], runs[1][0], (runs[0][1], runs[1][1]))


def test_a_daily_run_after_one_that_passed_reads_only_the_partitions_that_changed(ledger_runs: LedgerRuns) -> None:
    day = ledger_runs.appended
    assert "narrowed to changed partitions" in ledger_runs.details[0]
    assert "narrowed" not in ledger_runs.details[1]
    for project, starts in (
        # the new day for the feeds nothing landed late in; the rewritten and the late file's partitions
        (ledger_runs.narrowed, {"cards": day, "crm": day - timedelta(days=2), "core_banking": day - timedelta(days=1)}),
        (ledger_runs.lookback, dict.fromkeys(("cards", "crm", "core_banking"), day - timedelta(days=4))),
    ):
        staging = project.target_path / "compiled" / "taglake" / "models" / "staging"
        cards = (staging / "cards/base/base_cards__transactions.sql").read_text(encoding="utf-8")
        assert _raw_partitions_since(starts["cards"]) in cards
        for prefix, base in (
            ("crm/customers", "crm/base/base_crm__customers.sql"),
            ("core_banking/accounts", "core_banking/base/base_core_banking__accounts.sql"),
        ):
            sql = (staging / base).read_text(encoding="utf-8")
            assert _raw_partitions_since(starts[prefix.split("/")[0]]) in sql, base
            listed = re.search(r"read_csv\(\[([^\]]*)\]", sql)
            assert listed is not None, base
            days = [
                date(*(int(part) for part in re.findall(r"(?:year|month|day)=(\d+)", path)))
                for path in re.findall(r"'([^']*)'", listed.group(1))
            ]
            assert min(days) == starts[prefix.split("/")[0]], base
    # the scoring feed, unchanged, is not read at all (its window starts after the newest it holds)
    ((newest,),) = _query(
        ledger_runs.narrowed.duckdb_path, "select max(landing_date) from taglake_staging.base_ml__model_scores"
    )
    scores = ledger_runs.narrowed.target_path / "compiled/taglake/models/staging/ml/base/base_ml__model_scores.sql"
    assert _raw_partitions_since(newest + timedelta(days=1)) in scores.read_text(encoding="utf-8")


def test_a_run_narrowed_by_the_ledger_ends_as_the_lookback_run_does(ledger_runs: LedgerRuns) -> None:
    # the late file's row and the rewritten file's second row are in both (the base tables hold each row's file)
    tables = _lake_tables(ledger_runs.lookback.duckdb_path)
    assert "taglake_staging.base_core_banking__accounts" in tables
    assert (
        differing_tables(
            ledger_runs.lookback.duckdb_path, ledger_runs.narrowed.duckdb_path, only=tables, run_time_free=True
        )
        == {}
    )
    ((late,),) = _query(
        ledger_runs.narrowed.duckdb_path,
        "select count(*) from taglake_staging.base_core_banking__accounts where source_file = ?",
        [f"core_banking/accounts/{_late_file_path(ledger_runs.appended)}"],
    )
    assert late == 1


def test_a_passing_run_records_the_files_it_listed_and_a_failing_or_partial_one_leaves_the_ledger(
    ledger_runs: LedgerRuns, daily: DailyLake
) -> None:
    db = ledger_runs.narrowed.duckdb_path
    recorded = _query(db, f"select source_table, landing_date, files from {LEDGER_SCHEMA}.raw_partitions")
    # yesterday's accounts partition with its late file: two files now
    assert ("core_banking.accounts", ledger_runs.appended - timedelta(days=1), 2) in recorded
    assert max(d for _, d, _ in recorded) == ledger_runs.appended
    failing = daily.project("ledger_failing", db_from=db)
    before = _query(failing.duckdb_path, f"select * from {LEDGER_SCHEMA}.raw_partitions order by all")
    # its lake is the first daily run's (a day fewer than the ledger's): a ledger written now would differ
    result = run_daily(failing, target="local", allow_stale=True, scan=False, build_args=["--vars", "{not yaml"])
    assert not result.ok and result.steps[-1].name == "build"
    assert _query(failing.duckdb_path, f"select * from {LEDGER_SCHEMA}.raw_partitions order by all") == before
    # a build of part of the project passes, but did not bring every model up to the files it listed
    result = run_daily(failing, target="local", allow_stale=True, scan=False, build_args=["--select", "ref_currencies"])
    assert result.ok, result.rows()
    assert _query(failing.duckdb_path, f"select * from {LEDGER_SCHEMA}.raw_partitions order by all") == before
