"""The dbt project on the local target: it builds green over a generated lake, and accounts for every raw row."""

from __future__ import annotations

import re

import duckdb
import pytest

from taglake.core.project import Project
from taglake.lake.raw_tables import quarantine_kinds
from taglake.ops import local_build
from taglake.privacy.keys import read_key
from taglake.privacy.scan.scanner import format_report, scan
from taglake.privacy.tokens import tokenize

pytestmark = pytest.mark.dbt


def _query(project: Project, sql: str) -> list[tuple]:
    with local_build.connect(project) as con:
        return con.sql(sql).fetchall()


def test_dbt_build_passes_on_local(build_run_results: dict) -> None:
    # The session fixture raised DbtError if `dbt build` failed; the run results say every node succeeded.
    results = build_run_results
    statuses = {r["unique_id"]: r["status"] for r in results["results"]}
    assert statuses, "dbt build ran nothing"
    # Exposures are documentation nodes: dbt reports them as no-ops. Only tests set to warn may warn.
    warn_only = {"test.taglake.assert_every_active_tag_has_holders"}
    failing = {
        uid: s
        for uid, s in statuses.items()
        if not uid.startswith("exposure.") and s not in {"success", "pass"} and not (uid in warn_only and s == "warn")
    }
    assert not failing, failing
    kinds = {uid.split(".")[0] for uid in statuses}
    assert {"model", "seed", "test", "unit_test", "snapshot", "exposure"} <= kinds


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
        expected = {(table, k): n for k, n in info["defects"].items() if k in quarantine_kinds() and n}
        actual = {key: n for key, n in found.items() if key[0] == table}
        assert actual == expected, table


def test_no_built_relation_has_a_classified_column(built_project: Project, source_pii_columns: dict) -> None:
    pii = source_pii_columns
    assert {"national_id", "name_zh", "mobile", "email", "address", "birth_date", "raw_line"} <= set(pii)
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        columns = con.sql(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema like 'taglake%'"
        ).fetchall()
    leaked = [c for c in columns if c[2] in pii]
    assert not leaked, f"classified columns outside the vault: {leaked}"


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


def test_the_build_and_its_artifacts_hold_no_clear_personal_data_or_key(built_project: Project) -> None:
    # The leak scanner, with every clear value of the lake and the key as canaries, over every relation of the
    # build and every file dbt wrote (compiled SQL, manifest, run results, catalog, docs site, logs).
    hits = scan(
        built_project.lake_dir,
        db_path=built_project.duckdb_path,
        folders=[built_project.target_path, built_project.log_path],
        key_file=built_project.key_file,
    )
    assert (built_project.target_path / "catalog.json").is_file()
    assert not hits, format_report(hits)


def test_staging_tokens_are_the_keyed_pseudonym_of_the_national_id(built_project: Project) -> None:
    # Independent of the SQL: recompute a customer's token in Python from the raw ID and the key file.
    key = read_key(built_project.key_file)
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        tokens = {r[0] for r in con.sql("select customer_token from taglake_staging.stg_crm__customers").fetchall()}
        raw = con.sql(
            f"select national_id from read_csv('{built_project.lake_dir}/raw/crm/customers/*/*/*/*.csv', "
            "all_varchar=true) where national_id is not null limit 50"
        ).fetchall()
    expected = {tokenize(nid, "national_id", key.k_inner, key.k_outer) for (nid,) in raw}
    assert expected <= tokens


def test_every_raw_row_is_accepted_collapsed_or_quarantined_exactly_as_injected(
    built_project: Project, built_manifest: dict
) -> None:
    # raw = accepted (one per key) + collapsed (duplicates, older versions) + quarantined, table by table, and each
    # of the three equals what the generator says it injected.
    rows = _query(built_project, "select * from taglake_marts.fct_source_reconciliation")
    found = {table: (raw, accepted, collapsed, quarantined) for table, raw, accepted, collapsed, quarantined in rows}
    assert set(found) == set(built_manifest["tables"])
    for table, info in built_manifest["tables"].items():
        expected = info["expected"]
        assert found[table] == (info["rows"], expected["accepted"], expected["collapsed"], expected["quarantined"])
    quarantined = dict(
        _query(built_project, "select source_table, count(*) from taglake_marts.fct_quarantined_rows group by 1")
    )
    assert {t: n for t, n in quarantined.items()} == {
        t: i["expected"]["quarantined"] for t, i in built_manifest["tables"].items() if i["expected"]["quarantined"]
    }


def test_quarantined_records_show_the_row_with_personal_data_masked(built_project: Project) -> None:
    rows = _query(
        built_project,
        "select reject_reason, quarantined_record from taglake_marts.fct_quarantined_rows "
        "where source_table = 'crm.customers'",
    )
    assert rows
    for _reason, record in rows:
        fields = record.split(",")
        assert len(fields) == 12, record  # the CSV's twelve columns, in order
        # Each classified field is its class, length and keyed hash (or empty when blank), never the value.
        for index, pii in (
            (0, "national_id"),
            (1, "name"),
            (2, "birth_date"),
            (4, "mobile"),
            (5, "email"),
            (6, "address"),
        ):
            assert re.fullmatch(rf"(\[{pii} len=[0-9]+ #[0-9a-f]{{8}}\])?", fields[index]), (pii, index)
