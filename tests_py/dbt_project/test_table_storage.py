"""macros/engines/table_storage.sql: the string columns a model declares high-cardinality
(`meta: {high_cardinality_columns: [...]}`) are written `using compression fsst` by a table, a contracted table and
an incremental model (whose later runs insert into the declared table), the rows are those the model selects, the
other columns keep DuckDB's own choice, and a declaration naming a missing or non-string column stops the build
with a one-line error naming the model and the column.

A tiny dbt project of its own holding the project's macro file; one run per scenario."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import duckdb
import pytest
from tiny_dbt_project import DATABASE, TABLE_STORAGE_MACROS, declared_columns, run_dbt, tiny_project

from taglake.bench.dbt_log import logged_statements

pytestmark = pytest.mark.dbt

# 40,000 rows: a unique hex ID, a three-value code twice, a number. DuckDB's own choice for the code is mostly a
# dictionary and for the ID FSST, so the models declare the ID and the first code: the code stored FSST throughout is
# the declaration's doing; its undeclared copy is created without a declaration and left to DuckDB.
ROWS = "select md5(cast(i as varchar)) as row_id, ['pos', 'online', 'atm'][i % 3 + 1] as channel,"
ROWS += " ['pos', 'online', 'atm'][i % 3 + 1] as channel_copy, i as n"
ROWS += " from range({start}, {stop}) as r(i)"

MODELS = {
    "plain": (
        "{{ config(materialized='table', meta={'high_cardinality_columns': ['row_id', 'channel']}) }}\n"
        + ROWS.format(start=0, stop=40000)
    ),
    "undeclared": "{{ config(materialized='table') }}\n" + ROWS.format(start=0, stop=40000),
    "contracted": (
        "{{ config(materialized='table', meta={'high_cardinality_columns': ['row_id', 'channel']}) }}\n"
        + ROWS.format(start=0, stop=40000)
    ),
    "growing": (
        "{{ config(materialized='incremental', unique_key='n', incremental_strategy='delete+insert',"
        " meta={'high_cardinality_columns': ['row_id', 'channel']}) }}\n"
        "{% if is_incremental() %}"
        + ROWS.format(start=40000, stop=80000)
        + "{% else %}"
        + ROWS.format(start=0, stop=40000)
        + "{% endif %}"
    ),
}

CONTRACT = """models:
  - name: contracted
    config: {contract: {enforced: true}}
    columns:
      - {name: row_id, data_type: varchar, constraints: [{type: not_null}]}
      - {name: channel, data_type: varchar}
      - {name: channel_copy, data_type: varchar}
      - {name: n, data_type: bigint}
"""


def _project(folder: Path, models: dict[str, str], schema_yml: str = "") -> Path:
    files = {"models/_models.yml": schema_yml} if schema_yml else {}
    return tiny_project(folder, macros=TABLE_STORAGE_MACROS, models=models, files=files)


def _dbt(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_dbt(folder, "run", *args)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = _project(tmp_path_factory.mktemp("table_storage") / "project", MODELS, CONTRACT)
    for _ in range(2):  # the second run: the incremental model inserts into its declared table
        result = _dbt(folder)
        assert result.returncode == 0, result.stdout[-3000:]
    return folder


def _compression(folder: Path, table: str) -> dict[str, set[str]]:
    with duckdb.connect(str(folder / DATABASE), read_only=True) as con:
        rows = con.execute(
            f"select column_name, compression from pragma_storage_info('main.{table}') "
            "where segment_type = 'VARCHAR' group by all"
        ).fetchall()
    out: dict[str, set[str]] = {}
    for column, compression in rows:
        out.setdefault(column, set()).add(compression)
    return out


def _declared_clauses(folder: Path, table: str) -> dict[str, str]:
    """The column clauses of the first statement that created the table (the model's own or its `__dbt_tmp`), read
    from dbt's log by the benchmarks' reader: column name → the rest of its clause."""
    created = re.compile(rf'create\s+table\s+"tiny"\."main"\."{table}(?:__dbt_tmp)?"\s*\((.*?)\)\s*;', re.S)
    found = next(filter(None, (created.search(s.sql) for s in logged_statements(folder / "logs" / "dbt.log"))), None)
    assert found, f"no create statement of {table} in dbt.log"
    clauses = [clause.strip() for clause in found.group(1).split(",") if clause.strip()]
    return {clause.split()[0].strip('"'): " ".join(clause.split()[1:]).lower() for clause in clauses}


@pytest.mark.parametrize("table", ["plain", "contracted", "growing"])
def test_declared_columns_are_fsst_and_the_rest_is_duckdbs_choice(built: Path, table: str) -> None:
    clauses = _declared_clauses(built, table)
    assert list(clauses) == ["row_id", "channel", "channel_copy", "n"]
    declared = {column for column, clause in clauses.items() if clause.endswith("using compression fsst")}
    assert declared == {"row_id", "channel"}  # the undeclared copy and the number are left to DuckDB
    storage = _compression(built, table)
    assert storage["channel"] == {"FSST"}  # the declaration's doing: DuckDB's own choice here is mostly a dictionary
    # a high-entropy ID held to FSST: stored FSST, or uncompressed where DuckDB finds FSST does not pay on its segment
    # (which varies from run to run for these random hex strings), never a dictionary
    assert storage["row_id"] and storage["row_id"] <= {"FSST", "Uncompressed"}
    # DuckDB's own choice for the undeclared copy is not asserted: it is DuckDB's, per segment, and a parallel write on
    # a busy machine has stored the whole copy FSST (CI, 2026-12-07)


def test_the_rows_are_the_models(built: Path) -> None:
    with duckdb.connect(str(built / DATABASE), read_only=True) as con:
        expected = con.execute(
            f"select * from ({ROWS.format(start=0, stop=40000)}) except all select * from main.plain"
        )
        assert expected.fetchall() == []
        for table, count in (("plain", 40000), ("contracted", 40000), ("growing", 80000), ("undeclared", 40000)):
            assert con.execute(f"select count(*), count(distinct row_id) from main.{table}").fetchone() == (
                count,
                count,
            )
    assert declared_columns(built, "contracted") == [
        ("row_id", "VARCHAR", "NO"),
        ("channel", "VARCHAR", "YES"),
        ("channel_copy", "VARCHAR", "YES"),
        ("n", "BIGINT", "YES"),
    ]


def test_an_undeclared_model_is_written_as_dbt_duckdb_writes_it(built: Path) -> None:
    run_sql = next((built / "target" / "run").rglob("undeclared.sql")).read_text(encoding="utf-8")
    assert "using compression" not in run_sql and " as (" in run_sql


@pytest.mark.parametrize(
    ("column", "message"),
    [("no_such", "names no_such, which is not a column of the model"), ("n", "names n, a BIGINT column")],
)
def test_a_wrong_declaration_stops_with_one_line_naming_it(tmp_path: Path, column: str, message: str) -> None:
    sql = f"{{{{ config(materialized='table', meta={{'high_cardinality_columns': ['{column}']}}) }}}}\n"
    folder = _project(tmp_path / "project", {"bad": sql + ROWS.format(start=0, stop=10)})
    result = _dbt(folder)
    assert result.returncode != 0
    assert f"bad: meta.high_cardinality_columns {message}" in result.stdout
    assert "Traceback" not in result.stdout
