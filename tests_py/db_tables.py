"""Compare the tables of two local (DuckDB) builds exactly: what the daily-run tests assert with."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

SNAPSHOT_SCHEMA = "taglake_snapshots"
# Columns a snapshot fills from the clock of the run that wrote the row: a retirement row's times (hard_deletes:
# new_record), the end of the version it closed, and the ids dbt derives from them. Compared as "is null" only.
RUN_TIME_COLUMNS = ("dbt_valid_to", "dbt_updated_at", "dbt_scd_id")


def copy_db(source: Path, dest: Path) -> None:
    """Copy a closed DuckDB database (and its WAL, if one was left) to a new folder."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, dest)
    wal = source.with_name(source.name + ".wal")
    if wal.is_file():
        shutil.copy2(wal, dest.with_name(dest.name + ".wal"))


def built_tables(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[str]]:
    """`schema.table` → columns, for every table dbt built (its leftover __dbt_tmp/__dbt_backup tables aside)."""
    rows = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = ? and table_schema like 'taglake%' and table_name not like '%__dbt_%' "
        "order by table_schema, table_name, ordinal_position",
        [catalog],
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault(f"{schema}.{table}", []).append(column)
    return tables


def _select(catalog: str, table: str, columns: list[str], *, run_time_free: bool) -> str:
    exprs = []
    for column in columns:
        quoted = f'"{column}"'
        if run_time_free and table.startswith(SNAPSHOT_SCHEMA + "."):
            if column in RUN_TIME_COLUMNS:
                exprs.append(f"{quoted} is null")
                continue
            if column == "dbt_valid_from" and "dbt_is_deleted" in columns:
                exprs.append(f"case when dbt_is_deleted = 'True' then null else {quoted} end")
                continue
        exprs.append(quoted)
    return f"select {', '.join(exprs)} from {catalog}.{table}"


def differing_tables(
    left: Path, right: Path, *, only: set[str] | None = None, run_time_free: bool = False
) -> dict[str, str]:
    """Tables whose contents differ between two builds (as multisets of rows), with what differs; tables only
    one build has count as differing. `only` limits the check to those `schema.table` names; `run_time_free`
    compares snapshot columns stamped with the run's clock by whether they are null only."""
    found: dict[str, str] = {}
    with duckdb.connect(":memory:") as con:
        con.execute(f"attach '{left}' as l (read_only)")
        con.execute(f"attach '{right}' as r (read_only)")
        lt, rt = built_tables(con, "l"), built_tables(con, "r")
        names = set(lt) | set(rt)
        if only is not None:
            names &= only
        for name in sorted(names):
            if name not in lt or name not in rt:
                found[name] = "only in " + ("left" if name in lt else "right")
                continue
            if lt[name] != rt[name]:
                found[name] = f"columns differ: {lt[name]} vs {rt[name]}"
                continue
            a = _select("l", name, lt[name], run_time_free=run_time_free)
            b = _select("r", name, rt[name], run_time_free=run_time_free)
            extra = con.execute(f"select count(*) from ({a} except all {b})").fetchone()[0]
            missing = con.execute(f"select count(*) from ({b} except all {a})").fetchone()[0]
            if extra or missing:
                found[name] = f"{extra} rows only left, {missing} rows only right"
    return found


def table_names(db: Path) -> set[str]:
    with duckdb.connect(":memory:") as con:
        con.execute(f"attach '{db}' as l (read_only)")
        return set(built_tables(con, "l"))
