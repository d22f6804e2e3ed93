"""macros/engines/month_parts.sql through macros/engines/table_storage.sql: a table whose inputs carry month_part
marks is created empty and filled with one insert per calendar month from the earliest to the latest month the
marked columns hold, and one for their nulls; the table is the one a single statement gives (as a table, as a
contracted table, as an incremental model's first build and its later run, and with an empty input); a daily
run's temporary relation keeps the marks as `true`; the months are those of every marked input, and an input
without rows gives the nulls' insert alone.

A tiny dbt project of its own holding the project's macro files; one run per scenario."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from tiny_dbt_project import DATABASE, TABLE_STORAGE_MACROS, declared_columns, run_dbt, tiny_project

pytestmark = pytest.mark.dbt

# 20,000 events over five months (Nov 2025 - Mar 2026), one in fifty without a time; targets for six months.
EVENTS = """{{ config(materialized='table') }}
select
    i as event_id,
    md5(cast(i % 97 as varchar)) as customer_token,
    case when i % 50 = 0 then null
        else timestamp '2025-11-03 10:00:00' + to_months(cast(i % 5 as integer)) + to_days(cast(i % 27 as integer))
    end as event_at,
    i % 7 as amount
from range(0, 20000) as r(i)
"""
TARGETS = """{{ config(materialized='table') }}
select cast(date '2025-11-01' + to_months(cast(m as integer)) as date) as target_month, m * 10 as target
from range(0, 6) as t(m)
"""
NO_EVENTS = "{{ config(materialized='table') }}\nselect * from {{ ref('events') }} where false\n"


def _monthly(config: str, source: str = "events", timed_only: bool = False) -> str:
    return f"""{{{{ config({config}) }}}}
with events as (
    select *, cast(date_trunc('month', event_at) as date) as event_month
    from {{{{ ref('{source}') }}}}
    where {{{{ month_part('event_at', ref('{source}')) }}}}{" and event_at is not null" if timed_only else ""}
),
targets as (
    select * from {{{{ ref('targets') }}}}
    where {{{{ month_part('target_month', ref('targets')) }}}}
),
per_month as (
    select event_month, count(*) as events, count(distinct customer_token) as customers, sum(amount) as amount
    from events
    group by event_month
)
select per_month.*, targets.target
from per_month
left join targets on per_month.event_month = targets.target_month
"""


MODELS = {
    "events": EVENTS,
    "targets": TARGETS,
    "no_events": NO_EVENTS,
    "monthly": _monthly("materialized='table'"),
    "contracted": _monthly("materialized='table'"),
    # its key is never null: dbt's delete+insert would keep a null key's old row beside its new one
    "growing": _monthly(
        "materialized='incremental', unique_key='event_month', incremental_strategy='delete+insert'", timed_only=True
    ),
    "empty": _monthly("materialized='table'", source="no_events"),
    "nothing": (
        "{{ config(materialized='table') }}\n"
        "select cast(date_trunc('month', event_at) as date) as event_month, count(*) as events\n"
        "from {{ ref('no_events') }} where {{ month_part('event_at', ref('no_events')) }} group by 1\n"
    ),
}

CONTRACT = """models:
  - name: contracted
    config: {contract: {enforced: true}}
    columns:
      - {name: event_month, data_type: date}
      - {name: events, data_type: bigint, constraints: [{type: not_null}]}
      - {name: customers, data_type: bigint}
      - {name: amount, data_type: hugeint}
      - {name: target, data_type: bigint}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tiny_project(
        tmp_path_factory.mktemp("month_parts") / "project",
        macros=TABLE_STORAGE_MACROS,
        models=MODELS,
        files={"models/_models.yml": CONTRACT},
    )
    result = run_dbt(folder, "run")
    assert result.returncode == 0, result.stdout[-3000:]
    return folder


def _run_sql(folder: Path, model: str) -> str:
    return next((folder / "target" / "run").rglob(f"{model}.sql")).read_text(encoding="utf-8")


def _whole(folder: Path, model: str) -> str:
    """The model's compiled select, marks as compiled (`true`): the single statement's rows."""
    return next((folder / "target" / "compiled").rglob(f"{model}.sql")).read_text(encoding="utf-8")


def _differences(folder: Path, model: str) -> tuple[int, int, int]:
    whole = _whole(folder, model)
    with duckdb.connect(str(folder / DATABASE), read_only=True) as con:
        missing = con.execute(f"select count(*) from (({whole}) except all select * from main.{model})").fetchone()
        extra = con.execute(f"select count(*) from (select * from main.{model} except all ({whole}))").fetchone()
        rows = con.execute(f"select count(*) from main.{model}").fetchone()
    assert missing and extra and rows
    return missing[0], extra[0], rows[0]


@pytest.mark.parametrize(
    ("model", "rows"), [("monthly", 6), ("contracted", 6), ("growing", 5), ("empty", 0), ("nothing", 0)]
)
def test_the_table_is_the_single_statements(built: Path, model: str, rows: int) -> None:
    assert _differences(built, model) == (0, 0, rows)  # five months, and the events without a time but in growing


def test_each_month_and_the_nulls_are_one_insert(built: Path) -> None:
    run_sql = _run_sql(built, "monthly")
    assert run_sql.count("insert into") == 7  # nulls, then Nov 2025 to Apr 2026 (the targets' last month)
    assert "(event_at is null)" in run_sql and "(target_month is null)" in run_sql
    months = re.findall(r"\(event_at >= '(\d{4}-\d\d-\d\d)' and event_at < '(\d{4}-\d\d-\d\d)'\)", run_sql)
    assert months == [
        ("2025-11-01", "2025-12-01"),
        ("2025-12-01", "2026-01-01"),
        ("2026-01-01", "2026-02-01"),
        ("2026-02-01", "2026-03-01"),
        ("2026-03-01", "2026-04-01"),
        ("2026-04-01", "2026-05-01"),
    ]
    assert "(target_month >= '2026-04-01' and target_month < '2026-05-01')" in run_sql
    assert "taglake_month_part" not in run_sql  # every mark replaced


def test_the_months_are_those_of_any_marked_input(built: Path) -> None:
    # no events: the targets' six months and the nulls, each empty
    assert _run_sql(built, "empty").count("insert into") == 7
    # no marked input holds a row: the nulls' insert alone
    run_sql = _run_sql(built, "nothing")
    assert run_sql.count("insert into") == 1 and "(event_at is null)" in run_sql


def test_a_contracted_table_keeps_its_declaration(built: Path) -> None:
    assert declared_columns(built, "contracted") == [
        ("event_month", "DATE", "YES"),
        ("events", "BIGINT", "NO"),
        ("customers", "BIGINT", "YES"),
        ("amount", "HUGEINT", "YES"),
        ("target", "BIGINT", "YES"),
    ]
    assert _run_sql(built, "contracted").count("insert into") == 7


def test_a_later_incremental_run_keeps_the_marks_true(built: Path) -> None:
    result = run_dbt(built, "run", "--select", "growing")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "delete from" in _run_sql(built, "growing")
    log = (built / "logs" / "dbt.log").read_text(encoding="utf-8")
    temporary = log[log.rindex("create temporary table") :]  # the later run's temporary relation of growing
    temporary = temporary[: temporary.index("SQL status")]
    assert "taglake_month_part event_at" in temporary  # the marks as compiled: `true`
    assert "is null)" not in temporary and "event_at >=" not in temporary
    assert _differences(built, "growing") == (0, 0, 5)
