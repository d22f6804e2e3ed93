"""macros/incremental/insert_from_query.sql: an incremental run of a model configured `meta: {insert_from_query:
true}` reads its query through a temporary view, not a temporary table, so the append writes the rows once; the
model's own table may be read only as `landed_before_window` (the rows its pre-hook leaves), any other read of it
stops the run with a one-line error naming the model.

A tiny dbt project of its own holding the project's macro files; two runs per scenario (the second incremental)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tiny_dbt_project import DATABASE, TABLE_STORAGE_MACROS, run_dbt, tiny_project

pytestmark = pytest.mark.dbt

CONFIG = (
    "{{ config(materialized='incremental', incremental_strategy='append', meta={'insert_from_query': true},"
    ' pre_hook="{% if is_incremental() %}delete from {{ this }} where n >= 5{% endif %}") }}\n'
)
# every run gives the rows 5..9 again (a window) and 0..4 once: the pre-hook deletes the window, the append puts it back
WINDOW = "select i as n from range(5, 10) as r(i)"
FIRST = "{% if not is_incremental() %}select i as n from range(0, 5) as r(i) union all {% endif %}"
OWN_ROWS_BEFORE = (
    "{% if is_incremental() %} where not exists (select 1 from {{ this }} as landed_before_window"
    " where landed_before_window.n = w.n and landed_before_window.n < 5){% endif %}"
)
READS_OWN = "{% if is_incremental() %} where n > (select count(*) from {{ this }}){% endif %}"

MODELS = {
    "window": CONFIG + FIRST + WINDOW,
    "window_reads_before": CONFIG + FIRST + f"select * from ({WINDOW}) as w" + OWN_ROWS_BEFORE,
}


def _project(folder: Path, models: dict[str, str]) -> Path:
    return tiny_project(folder, macros=TABLE_STORAGE_MACROS, models=models)


def test_the_window_is_appended_from_a_view_once_per_run(tmp_path: Path) -> None:
    folder = _project(tmp_path / "project", MODELS)
    for _ in range(2):
        result = run_dbt(folder, "run")
        assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(folder / DATABASE), read_only=True) as con:
        for table in MODELS:
            assert con.execute(f"select list(n order by n) from main.{table}").fetchone() == (list(range(10)),)
    log = (folder / "logs" / "dbt.log").read_text(encoding="utf-8", errors="replace")
    for table in MODELS:
        assert f'create temporary view "{table}__dbt_tmp' in log
        assert f'create temporary table "{table}__dbt_tmp' not in log


def test_a_query_reading_its_own_table_otherwise_stops_with_one_line(tmp_path: Path) -> None:
    folder = _project(tmp_path / "project", {"bad": CONFIG + f"select * from ({WINDOW}) as w" + READS_OWN})
    assert run_dbt(folder, "run").returncode == 0  # the first build creates the table from the select
    result = run_dbt(folder, "run")
    assert result.returncode != 0
    assert "bad is configured insert_from_query but its query reads its own table other than through" in result.stdout
    assert "Traceback" not in result.stdout
