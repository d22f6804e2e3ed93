"""Read the local (DuckDB) build: what the demo prints (analyses run through taglake.ops.query, the one runner)."""

from __future__ import annotations

from typing import Any

import duckdb

from taglake.core.project import Project

MARTS_SCHEMA = "taglake_marts"


def connect(project: Project) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the local build."""
    if not project.duckdb_path.is_file():
        raise FileNotFoundError(f"no local build at {project.duckdb_path}: run `taglake build` first")
    return duckdb.connect(str(project.duckdb_path), read_only=True)


def intake_summary(project: Project) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows landed, accepted and quarantined per raw source table, over all landing days."""
    sql = f"""
        select
            source_table,
            count(*) as partitions,
            sum(raw_rows) as raw_rows,
            sum(accepted_rows) as accepted_rows,
            sum(quarantined_rows) as quarantined_rows
        from {MARTS_SCHEMA}.fct_raw_intake_daily
        group by source_table
        order by source_table
    """
    with connect(project) as con:
        rel = con.sql(sql)
        return list(rel.columns), rel.fetchall()


def mart_row_counts(project: Project) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every table the build wrote outside the raw zone, with its row count."""
    with connect(project) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema like 'taglake%' and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        rows = [
            (schema, name, con.sql(f'select count(*) from "{schema}"."{name}"').fetchone()[0])
            for schema, name in tables
        ]
    return ["schema", "table", "rows"], rows
