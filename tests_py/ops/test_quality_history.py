"""The quality history (fct_quality_check_results): one row per check per run with its quality dimension,
idempotent per run id, kept by `--full-refresh`, never a row's values; and the quarantine spike test.

Built on the session's build (`built_project`, whose on-run-end hook recorded its checks) and on a copy of its
database, so that no test here builds the lake again."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml
from column_checks import not_null_columns
from project_copy import copy_project, dbt

from taglake.core.project import Project
from taglake.core.sources import source_tables
from taglake.ops.quality import QualityRecordError, record
from taglake.privacy import patterns
from taglake.privacy.dbt_runner import compile_inline_offline, run_dbt

pytestmark = [pytest.mark.quality_history, pytest.mark.dbt]

HISTORY = "taglake_marts.fct_quality_check_results"
DIMENSIONS = {"completeness", "accuracy", "consistency", "timeliness", "validity"}
# one reconciliation and one quarantine check per raw lake table (its source YAML)
SOURCES = sum(not table.restricted for table in source_tables().values())


def _rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def build_run_id(build_run_results: dict) -> str:
    """The session build ran without the var taglake_run_id: its rows are under its invocation id."""
    return build_run_results["metadata"]["invocation_id"]


@pytest.fixture
def history_copy(built_project: Project, tmp_path: Path) -> Iterator[Project]:
    """The session's build in a database of its own (same lake, key and project), with its own target/."""
    db = tmp_path / "copy.duckdb"
    shutil.copy2(built_project.duckdb_path, db)
    project = Project.locate(
        lake_dir=built_project.lake_dir, duckdb_path=db, artifacts_dir=tmp_path, key_file=built_project.key_file
    )
    project.target_path.mkdir(parents=True)
    shutil.copy2(built_project.duckdb_path.parent / "build_run_results.json", project.target_path / "run_results.json")
    yield project


def test_every_test_of_the_build_is_one_row_of_its_run_with_a_dimension(
    built_project: Project, build_run_results: dict, build_run_id: str
) -> None:
    # check ids are the tests' unique ids without dbt's hash suffix; a column_values test is one row per check
    # (macros/quality/quality_history.sql), each passing with its test in a clean build
    manifest = json.loads((built_project.target_path / "manifest.json").read_text(encoding="utf-8"))
    tests = {}
    for r in build_run_results["results"]:
        if not r["unique_id"].startswith("test."):
            continue
        node = manifest["nodes"][r["unique_id"]]
        if (node.get("test_metadata") or {}).get("name") != "column_values":
            tests[re.sub(r"\.[0-9a-f]{10}$", "", r["unique_id"])] = r
            continue
        model = manifest["nodes"][node["attached_node"]]["name"]
        kwargs = node["test_metadata"]["kwargs"]
        checks = [("not_null", c) for c in sorted(not_null_columns(kwargs))]
        checks += [("accepted_values", c) for c in kwargs.get("accepted_values") or {}]
        checks += [("expression_is_true", c) for c in kwargs.get("expression_is_true") or {}]
        assert checks and r["status"] == "pass", r["unique_id"]
        for kind, column in checks:
            tests[f"test.taglake.{kind}_{model}_{column}"] = r
    rows = _rows(
        built_project.duckdb_path,
        f"select check_id, quality_dimension, status, failing_rows, layer from {HISTORY} "
        f"where run_id = '{build_run_id}' and check_kind not in ('reconciliation', 'quarantine')",
    )
    assert {r[0] for r in rows} == set(tests)
    assert len(rows) == len(tests)
    for check_id, dimension, status, failing, layer in rows:
        assert dimension in DIMENSIONS
        assert status == tests[check_id]["status"]
        assert failing == tests[check_id]["failures"]
        assert layer in {"staging", "intermediate", "marts", "reference", "snapshots", "raw"}
    assert {r[1] for r in rows} >= {"completeness", "accuracy", "consistency", "validity"}
    every_text = "\n".join(str(c) for row in _rows(built_project.duckdb_path, f"select * from {HISTORY}") for c in row)
    assert patterns.find(every_text) == []  # nothing the privacy guard would take for personal data


def test_reconciliation_and_quarantine_are_recorded_per_source(built_project: Project, build_run_id: str) -> None:
    rows = _rows(
        built_project.duckdb_path,
        f"select check_kind, model, status, failing_rows, checked_rows, quality_dimension, as_of_date from {HISTORY} "
        f"where run_id = '{build_run_id}' and check_kind in ('reconciliation', 'quarantine')",
    )
    by_kind = {kind: [r for r in rows if r[0] == kind] for kind in ("reconciliation", "quarantine")}
    assert len(by_kind["reconciliation"]) == SOURCES and len(by_kind["quarantine"]) == SOURCES
    assert {r[5] for r in by_kind["reconciliation"]} == {"consistency"}
    assert {r[5] for r in by_kind["quarantine"]} == {"validity"}
    assert all(r[2] == "pass" and 0 <= r[3] <= r[4] for r in rows)
    lake = dict(
        _rows(
            built_project.duckdb_path,
            "select source_table, quarantined_rows from taglake_marts.fct_source_reconciliation",
        )
    )
    assert {r[1]: r[3] for r in by_kind["reconciliation"]} == lake
    assert len({r[6] for r in rows}) == 1 and rows[0][6] is not None


def test_every_test_of_the_project_resolves_to_one_dimension(dbt_manifest: dict) -> None:
    """The one declaration (vars.quality_dimensions, a test's own meta.quality_dimension) covers every test."""
    project = yaml.safe_load((Project.locate().root / "dbt_project.yml").read_text(encoding="utf-8"))
    declared = project["vars"]["quality_dimensions"]
    assert set(declared.values()) <= DIMENSIONS
    unresolved = []
    for node in dbt_manifest["nodes"].values():
        if node["resource_type"] != "test":
            continue
        kind = (node.get("test_metadata") or {}).get("name") or node["name"]
        dimension = (node["config"].get("meta") or {}).get("quality_dimension") or declared.get(kind)
        if dimension not in DIMENSIONS:
            unresolved.append(node["name"])
    assert unresolved == []


def test_recording_a_run_again_leaves_one_row_per_check(history_copy: Project, build_run_id: str) -> None:
    count = f"select count(*), count(distinct check_id) from {HISTORY} where run_id = '{build_run_id}'"
    before = _rows(history_copy.duckdb_path, count)[0]
    assert before[0] == before[1] > 0
    stamp = f"select max(recorded_at) from {HISTORY} where run_id = '{build_run_id}'"
    first = _rows(history_copy.duckdb_path, stamp)[0][0]
    record(history_copy, target="local", run_id=build_run_id)
    record(history_copy, target="local", run_id=build_run_id)
    assert _rows(history_copy.duckdb_path, count)[0] == before
    assert _rows(history_copy.duckdb_path, stamp)[0][0] > first  # replaced by the recording, not left alone
    # the run's run_results.json is still the build's, for what reads it next (metrics, alerts)
    kept = json.loads((history_copy.target_path / "run_results.json").read_text(encoding="utf-8"))
    assert kept["metadata"]["invocation_id"] == build_run_id


def test_recording_refuses_the_artifacts_of_another_run(history_copy: Project) -> None:
    with pytest.raises(QualityRecordError, match="written by run"):
        record(history_copy, target="local", run_id="scheduled__2026-12-01T00:00:00+00:00")
    with pytest.raises(QualityRecordError, match="--run-id"):
        record(history_copy, target="local", run_id="x'; drop table t; --")


def test_the_history_survives_a_full_refresh(history_copy: Project) -> None:
    count = f"select count(*) from {HISTORY}"
    before = _rows(history_copy.duckdb_path, count)[0][0]
    assert before > 0
    run_dbt(
        history_copy,
        ["run", "--full-refresh", "--select", "fct_quality_check_results", "fct_source_reconciliation"],
        target="local",
        quiet=True,
    )
    assert _rows(history_copy.duckdb_path, count)[0][0] >= before


SPIKE_TEST = "test_name:quarantine_rate_within_history"


def test_the_quarantine_spike_test_fails_on_a_spike_and_passes_otherwise(history_copy: Project) -> None:
    run = ["test", "--select", f"fct_raw_intake_daily,{SPIKE_TEST}", "--vars", "{taglake_run_id: spike_run}"]
    assert run_dbt(history_copy, run, target="local", check=False, quiet=True) == 0
    with duckdb.connect(str(history_copy.duckdb_path)) as con:  # the newest card day: every row quarantined
        con.execute(
            "update taglake_marts.fct_raw_intake_daily set quarantined_rows = raw_rows, accepted_rows = 0 "
            "where source_table = 'cards.transactions' and landing_date = (select max(landing_date) "
            "from taglake_marts.fct_raw_intake_daily where source_table = 'cards.transactions')"
        )
    assert run_dbt(history_copy, run, target="local", check=False, quiet=True) == 1
    recorded = _rows(
        history_copy.duckdb_path,
        f"select status, failing_rows, quality_dimension from {HISTORY} "
        "where run_id = 'spike_run' and check_kind = 'quarantine_rate_within_history'",
    )
    assert recorded == [("fail", 1, "validity")]


def test_a_failed_column_values_test_is_one_row_per_check_from_the_hook_and_from_the_artifacts(
    history_copy: Project,
) -> None:
    # tests/generic/column_values.sql: the hook runs the failed test's compiled query again for each check's count;
    # `taglake quality record` does the same from run_results.json, so recording the run again changes nothing
    with duckdb.connect(str(history_copy.duckdb_path)) as con:
        con.execute(
            "update taglake_staging.stg_crm__customers set gender = 'X' where customer_token in "
            "(select customer_token from taglake_staging.stg_crm__customers order by 1 limit 3)"
        )
    run = ["test", "--select", "column_values_stg_crm__customers", "--vars", "{taglake_run_id: planted_checks}"]
    assert run_dbt(history_copy, run, target="local", check=False, quiet=True) == 1
    query = (
        f"select check_name, check_kind, column_name, status, failing_rows, quality_dimension from {HISTORY} "
        "where run_id = 'planted_checks' order by check_name"
    )
    recorded = _rows(history_copy.duckdb_path, query)
    by_name = {r[0]: r[1:] for r in recorded}
    assert by_name["accepted_values_stg_crm__customers_gender"] == ("accepted_values", "gender", "fail", 3, "validity")
    others = [r for r in recorded if r[0] != "accepted_values_stg_crm__customers_gender"]
    assert others and all(r[3:5] == ("pass", 0) for r in others)
    assert {r[1] for r in recorded} == {"not_null", "accepted_values"}
    record(history_copy, target="local", run_id="planted_checks")
    assert _rows(history_copy.duckdb_path, query) == recorded


def test_a_failed_expression_check_of_a_column_values_test_is_its_own_row(history_copy: Project) -> None:
    # an expression_is_true check inside column_values: scores out of [0, 1] and null scores (a null result fails,
    # as in the expression_is_true test) are counted by the score's check (accuracy); the other check passes
    table = "taglake_intermediate.int_model_scores_latest"
    tokens = f"(select distinct customer_token from {table} order by 1 limit 3)"
    with duckdb.connect(str(history_copy.duckdb_path)) as con:
        con.execute(
            f"update {table} set score = case when customer_token = (select min(customer_token) from {tokens}) "
            f"then null else 1.5 end where customer_token in {tokens}"
        )
        counted = f"select count(*) filter (score is null), count(*) filter (score > 1) from {table}"
        nulls, above = con.execute(counted).fetchone()
    assert nulls > 0 and above > 0
    run = ["test", "--select", "column_values_int_model_scores_latest", "--vars", "{taglake_run_id: planted_score}"]
    assert run_dbt(history_copy, run, target="local", check=False, quiet=True) == 1
    recorded = _rows(
        history_copy.duckdb_path,
        f"select check_name, check_kind, column_name, status, failing_rows, quality_dimension from {HISTORY} "
        "where run_id = 'planted_score' order by check_name",
    )
    assert recorded == [
        (
            "expression_is_true_int_model_scores_latest_score",
            "expression_is_true",
            "score",
            "fail",
            nulls + above,
            "accuracy",
        ),
        ("not_null_int_model_scores_latest_customer_token", "not_null", "customer_token", "pass", 0, "completeness"),
    ]


PLANTED_ID = "A123456789"  # a well-formed national ID with a valid checksum
PLANTED_TESTS = {
    # fails with a row holding the ID
    "assert_planted_fails_with_an_id": (
        "{{ config(meta={'quality_dimension': 'validity'}) }}\n"
        f"select '{PLANTED_ID}' as national_id, 'a@b.example' as email\n"
    ),
    # cannot run: the engine's error message quotes the ID
    "assert_planted_errors_quoting_an_id": (
        f"{{{{ config(meta={{'quality_dimension': 'validity'}}) }}}}\n"
        f"select 1 as n where cast('{PLANTED_ID}' as integer) > 0\n"
    ),
}


@pytest.mark.redteam
def test_a_failing_test_puts_none_of_its_values_in_the_history(built_project: Project, tmp_path: Path) -> None:
    copy = copy_project(tmp_path / "project")
    shutil.copy2(built_project.key_file, copy.key_file)  # the key the copied database was built with
    copy = Project(
        root=copy.root,
        lake_dir=built_project.lake_dir,
        duckdb_path=tmp_path / "copy.duckdb",
        target_path=copy.target_path,
        log_path=copy.log_path,
        key_file=copy.key_file,
    )
    shutil.copy2(built_project.duckdb_path, copy.duckdb_path)
    for name, sql in PLANTED_TESTS.items():
        (copy.root / "tests" / f"{name}.sql").write_text(sql, encoding="utf-8")
    done = dbt(copy, "test", "--select", *PLANTED_TESTS, "--vars", "{taglake_run_id: planted_run}")
    assert done.returncode == 1
    rows = _rows(copy.duckdb_path, f"select * from {HISTORY} where run_id = 'planted_run'")
    assert sorted((r[5], r[12]) for r in rows) == [
        ("assert_planted_errors_quoting_an_id", "error"),
        ("assert_planted_fails_with_an_id", "fail"),
    ]
    every_cell = [str(cell) for row in _rows(copy.duckdb_path, f"select * from {HISTORY}") for cell in row]
    text = "\n".join(every_cell)
    assert PLANTED_ID not in text and PLANTED_ID.lower() not in text.lower()
    assert patterns.find(text) == []


QUALITY_STATEMENTS = """
{%- set rel = api.Relation.create(database=target.database, schema=target.schema,
                                  identifier='fct_quality_check_results') -%}
{%- set row = {'check_id': 'test.taglake.not_null_x', 'check_name': 'not_null_x', 'check_kind': 'not_null',
               'model': 'stg_x', 'layer': 'staging', 'column_name': 'c', 'quality_dimension': 'completeness',
               'severity': 'error', 'status': 'fail', 'failing_rows': 3, 'checked_rows': none} -%}
{{ quality_delete_sql(rel, 'scheduled__2026-10-31T00:00:00+00:00', ['test.taglake.not_null_x']) }};
{{ quality_insert_sql(rel, 'scheduled__2026-10-31T00:00:00+00:00', '2026-10-31', '2026-11-01 02:00:00', [row]) }}
"""


@pytest.mark.parametrize("target", ["athena", "redshift"])
def test_the_history_statements_compile_offline_and_parse_in_each_engines_dialect(target: str) -> None:
    """The on-run-end hook's delete and insert (no AWS here): rendered by the target's adapter, each parses in its
    engine's SQL dialect (sqlfluff), as every compiled node does in `taglake verify`."""
    from taglake.verify.offline_compile import engine_of, offline_env, sqlfluff_problems

    project = Project.locate()
    sql = compile_inline_offline(project, QUALITY_STATEMENTS, env=offline_env(project, target), what=target)
    statements = [s.strip() for s in sql.split(";") if s.strip()]
    assert [s.split()[0] for s in statements] == ["delete", "insert"]
    for statement in statements:
        assert sqlfluff_problems(statement + "\n", engine_of(target)) == [], statement
