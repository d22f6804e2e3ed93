"""The quarantine carries where a rejected row came from: its landing date and its file, relative to the raw zone's
root (fct_quarantined_rows.source_file, macros/engines/source_file.sql); no line number, as no engine gives one."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from taglake.core.project import Project
from taglake.core.sources import SourceTable, source_tables
from taglake.lake import feed_variants as fv
from taglake.lake.preflight import csv_dialect

pytestmark = pytest.mark.dbt


def _query(project: Project, sql: str) -> list[tuple]:
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def _records(path: Path, table: SourceTable) -> int:
    """Data records in one raw file, counted by Python's own readers (independent of DuckDB)."""
    if table.format == "parquet":
        return pq.read_metadata(path).num_rows
    text = path.read_text(encoding="utf-8-sig")
    if table.format == "jsonl":
        return sum(1 for line in text.splitlines() if line.strip())
    rows = [r for r in csv.reader(io.StringIO(text, newline=""), **csv_dialect(table)) if r]
    return max(len(rows) - 1, 0)


def _lake_files(project: Project) -> dict[str, tuple[SourceTable, date, int]]:
    """Every raw file of the lake, relative to raw/: (its table, its landing date, its records)."""
    raw = project.lake_dir / "raw"
    files = {}
    for table in source_tables().values():
        for landing, path in fv.table_files(project.lake_dir, table):
            files[path.relative_to(raw).as_posix()] = (table, landing, _records(path, table))
    return files


def test_every_quarantined_row_names_its_file_relative_to_the_raw_zone(built_project: Project) -> None:
    files = _lake_files(built_project)
    rows = _query(
        built_project,
        "select source_table, landing_date, source_file, count(*) from taglake_marts.fct_quarantined_rows group by all",
    )
    assert rows, "the default test lake has defects of every kind: the quarantine cannot be empty"
    tables_seen = set()
    for source_table, landing, source_file, count in rows:
        assert source_file in files, f"{source_table}: {source_file} is no file of the lake (relative to raw/)"
        table, file_landing, records = files[source_file]
        assert table.name == source_table and file_landing == landing
        assert 0 < count <= records
        assert not source_file.startswith("/") and str(built_project.lake_dir) not in source_file
        tables_seen.add(source_table)
    assert tables_seen == {t for t, *_ in rows} and len(tables_seen) >= 3


def test_every_raw_row_is_counted_against_the_file_that_held_it(built_project: Project) -> None:
    # Per file, the base model holds exactly as many rows (accepted and rejected) as Python's readers count in it:
    # each row names its own file, not a neighbour's.
    files = _lake_files(built_project)
    for table in source_tables().values():
        base = f"taglake_staging.base_{table.source}__{table.table}"
        found = Counter(dict(_query(built_project, f"select source_file, count(*) from {base} group by 1")))
        expected = Counter({name: n for name, (t, _, n) in files.items() if t.name == table.name and n})
        assert found == expected, table.name


def test_the_quarantine_declares_its_location_and_why_no_line(built_project: Project) -> None:
    manifest = json.loads((built_project.target_path / "manifest.json").read_text(encoding="utf-8"))
    node = manifest["nodes"]["model.taglake.fct_quarantined_rows"]
    column = node["columns"]["source_file"]
    assert "No line number" in column["description"] and column["data_type"] == "varchar"
    assert any(c["type"] == "not_null" for c in column["constraints"])
