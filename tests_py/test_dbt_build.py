"""The dbt project on the local target: it builds green over a generated lake, and accounts for every raw row."""

from __future__ import annotations

import json

import duckdb
import pytest

from taglake import local_build
from taglake.project import Project
from taglake.raw_tables import QUARANTINE_KINDS

pytestmark = pytest.mark.dbt


def _query(project: Project, sql: str) -> list[tuple]:
    return local_build.run_sql(project, sql)[1]


def test_dbt_build_passes_on_local(built_project: Project) -> None:
    # The session fixture raised DbtError if `dbt build` failed; the run results say every node succeeded.
    results = json.loads((built_project.target_path / "run_results.json").read_text(encoding="utf-8"))
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    assert statuses, "dbt build ran nothing"
    assert {s for s in statuses.values()} <= {"success", "pass"}, statuses
    kinds = {uid.split(".")[0] for uid in statuses}
    assert {"model", "seed", "test"} <= kinds


def test_every_raw_row_is_accepted_or_quarantined(built_project: Project, built_manifest: dict) -> None:
    rows = _query(
        built_project,
        "select source_table, sum(raw_rows), sum(accepted_rows), sum(quarantined_rows) "
        "from taglake_marts.fct_raw_intake_daily group by 1",
    )
    intake = {table: (raw, acc, quar) for table, raw, acc, quar in rows}
    assert set(intake) == set(built_manifest["tables"])
    for table, info in built_manifest["tables"].items():
        raw, accepted, quarantined = intake[table]
        assert raw == info["rows"], f"{table}: staging saw {raw} rows, the generator wrote {info['rows']}"
        assert raw == accepted + quarantined
        assert quarantined == info["expected"]["quarantined"], table


def test_quarantine_reasons_match_the_injected_defects(built_project: Project, built_manifest: dict) -> None:
    rows = _query(
        built_project,
        "select source_table, reject_reason, sum(row_count) from taglake_intermediate.int_raw_rows_classified "
        "where reject_reason is not null group by 1, 2",
    )
    found = {(table, reason): int(n) for table, reason, n in rows}
    for table, info in built_manifest["tables"].items():
        expected = {(table, k): n for k, n in info["defects"].items() if k in QUARANTINE_KINDS and n}
        actual = {key: n for key, n in found.items() if key[0] == table}
        assert actual == expected, table


def test_skeleton_models_select_no_personal_data(built_project: Project, source_pii_columns: dict) -> None:
    pii = source_pii_columns
    assert {"national_id", "name_zh", "mobile", "email", "address", "birth_date"} <= set(pii)
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        columns = con.sql(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema like 'taglake%'"
        ).fetchall()
    leaked = [c for c in columns if c[2] in pii]
    assert not leaked, f"personal-data columns selected before masking lands: {leaked}"


def test_built_tables_hold_no_national_id_from_the_lake(built_project: Project) -> None:
    # Canaries: every national ID in the raw customer extract; no text column of any built table may hold one.
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        con.execute(
            "create temp table canary as select distinct national_id from read_csv("
            f"'{built_project.lake_dir}/raw/crm/customers/*/*/*/*.csv', all_varchar=true) "
            "where national_id is not null"
        )
        assert con.sql("select count(*) from canary").fetchone()[0] > 100
        text_columns = con.sql(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema like 'taglake%' and data_type = 'VARCHAR'"
        ).fetchall()
        hits = []
        for schema, table, column in text_columns:
            n = con.sql(
                f'select count(*) from "{schema}"."{table}" t join canary c on t."{column}" = c.national_id'
            ).fetchone()[0]
            if n:
                hits.append((schema, table, column, n))
    assert not hits, hits
