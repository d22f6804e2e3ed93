"""The rotation's SQL for Athena and Redshift (macros/privacy/rekey.sql), compiled offline by each engine's own
adapter: it parses in the engine's dialect, and it rewrites every token column of every relation that persists
tokens (every table of the local build that holds one), so that the documented AWS rotation keeps history too.

On AWS, `rekey_tokens` reads each relation's columns from the warehouse's catalog; offline there is none, so the
local build's catalog (the same models) stands in for it, passed as `columns`."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from taglake.core.project import Project
from taglake.privacy import dbt_runner
from taglake.privacy.dbt_runner import compile_inline_offline
from taglake.verify.offline_compile import SQLGLOT_DIALECTS, offline_env

pytestmark = pytest.mark.dbt

PLAN_TARGETS = {"athena_system": "athena", "redshift_system": "redshift"}


def _offline_plan(target: str, artifacts: Path, columns: dict[str, list[str]]) -> dict:
    project = Project.locate(artifacts_dir=artifacts)
    compiled = compile_inline_offline(
        project,
        "{{ rekey_plan_json(mapping='restricted_keys.token_map', old_keys='restricted_keys.masking_keys', "
        f"new_keys='restricted_keys.masking_keys_next', columns={json.dumps(columns)}) }}}}",
        env=offline_env(project, target),
    )
    return json.loads(compiled)


def _local_columns(built: Project) -> dict[str, list[str]]:
    """Every base table of the local build with its columns: table name → column names."""
    with duckdb.connect(str(built.duckdb_path), read_only=True) as con:
        rows = con.execute(
            "select c.table_name, lower(c.column_name) from information_schema.columns as c "
            "join information_schema.tables as t using (table_catalog, table_schema, table_name) "
            "where t.table_type = 'BASE TABLE' order by c.table_name, c.ordinal_position"
        ).fetchall()
    found: dict[str, list[str]] = {}
    for table, column in rows:
        found.setdefault(table, []).append(column)
    return found


@pytest.fixture(scope="module")
def local_columns(built_project: Project) -> dict[str, list[str]]:
    return _local_columns(built_project)


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory, local_columns: dict[str, list[str]]) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("rekey_offline")
    return {target: _offline_plan(target, work / target, local_columns) for target in PLAN_TARGETS}


def _local_token_columns(columns: dict[str, list[str]], token_columns: set[str]) -> dict[str, set[str]]:
    """Every table of the local build that holds a token column, with those columns."""
    found = {table: set(names) & token_columns for table, names in columns.items()}
    return {table: names for table, names in found.items() if names}


@pytest.mark.parametrize("target", sorted(PLAN_TARGETS))
def test_the_rekey_sql_parses_in_the_engines_dialect(plans: dict[str, dict], target: str) -> None:
    plan = plans[target]
    dialect = SQLGLOT_DIALECTS[PLAN_TARGETS[target]]
    assert plan["statements"], "no rekey statement compiled"
    for sql in [plan["map_sql"], *plan["statements"]]:
        parsed = sqlglot.parse_one(sql, read=dialect, error_level=ErrorLevel.RAISE)
        assert parsed is not None
    # A token column is rewritten through the map: a MERGE on Athena (Iceberg), an UPDATE on Redshift. A key
    # version column (masking_key_version) and key_state are plain statements of their own; on Athena an Iceberg
    # table takes an UPDATE for the former.
    rewrites = [s for s in plan["statements"] if "token_map" in s.lower()]
    assert rewrites
    kinds = {type(sqlglot.parse_one(s, read=dialect)) for s in rewrites}
    expected = {exp.Merge} if PLAN_TARGETS[target] == "athena" else {exp.Update}
    assert kinds == expected
    others = {type(sqlglot.parse_one(s, read=dialect)) for s in plan["statements"] if s not in rewrites}
    assert others <= {exp.Merge, exp.Update}


@pytest.mark.parametrize("target", sorted(PLAN_TARGETS))
def test_the_rekey_covers_every_token_column_of_every_persisted_relation(
    plans: dict[str, dict], local_columns: dict[str, list[str]], target: str
) -> None:
    plan = plans[target]
    token_columns = set(plan["token_columns"])
    assert {"customer_token", "mobile_token", "email_token"} <= token_columns
    local = _local_token_columns(local_columns, token_columns)
    assert {"snap_customer_tags", "snap_customer_attributes", "snap_model_scores"} <= set(local)
    assert {"fct_card_transactions", "fct_app_events", "base_cards__transactions"} <= set(local)
    planned = {r["identifier"]: r for r in plan["relations"]}
    for table, columns in local.items():
        assert table in planned, f"{target}: {table} persists tokens but the rotation does not know it"
        relation = planned[table]
        assert set(relation["token_columns"]) == columns, table
        if relation["rewritable"]:
            for column in columns:
                wanted = f"{relation['relation'].lower()} as persisted"
                assert any(
                    wanted in s.lower() and f"persisted.{column} = token_map.old_token" in s.lower()
                    for s in plan["statements"]
                ), (table, column)
        else:
            # Athena's Hive tables (base_* models, raw rows only) cannot be updated: the next build rebuilds them
            # from raw with --full-refresh, which the procedure prescribes.
            assert PLAN_TARGETS[target] == "athena" and relation["materialized"] in ("table", "incremental"), table
    # Each (relation, column) has its own statement, and key_state records the new key in the same batch.
    rewrites = [r for r in planned.values() if r["rewritable"]]
    assert len(plan["statements"]) == sum(len(r["token_columns"]) + len(r["version_columns"]) for r in rewrites) + 1
    assert "key_state" in plan["statements"][-1]


def test_the_rekey_map_reads_every_tokenized_raw_field(plans: dict[str, dict]) -> None:
    for target, plan in plans.items():
        sql = plan["map_sql"].lower()
        for table in ("customers", "transactions", "accounts", "model_scores", "model_outcomes", "app_events"):
            assert table in sql, (target, table)
        # key parts only as columns of the key relations, never as literals
        assert "masking_keys_next" in sql and "k_inner" in sql


def test_the_rekey_run_operation_rewrites_every_token_of_a_build(built_project: Project, tmp_path: Path) -> None:
    """`dbt run-operation rekey_tokens` (the AWS procedure's step 3) run for real on DuckDB as the system target,
    over a copy of the build: every token is rewritten through the map, and key_state records the new key."""
    from db_tables import copy_db

    from taglake.privacy.key_state import recorded_key_state
    from taglake.privacy.keys import MaskingKey, read_key
    from taglake.privacy.rotation import rekey_plan

    db = tmp_path / "rekeyed.duckdb"  # not "system": DuckDB has a catalog of that name
    copy_db(built_project.duckdb_path, db)
    old, new = read_key(built_project.key_file), MaskingKey.new(read_key(built_project.key_file).key_version + 1)
    plan = rekey_plan(built_project)
    with duckdb.connect(str(db)) as con:
        for name, key in (("old_keys", old), ("new_keys", new)):
            con.execute(
                f"create table main.{name} as select ?::varchar as key_version, ?::varchar as k_inner, "
                "?::varchar as k_outer",
                [str(key.key_version), key.k_inner, key.k_outer],
            )
        con.execute(f"create table main.token_map as {plan.map_sql}")
        old_tokens = {t for (t,) in con.execute("select old_token from main.token_map").fetchall()}
    from taglake import cli

    identity = tmp_path / "identity" / "system_identity.json"  # the system account's explicit act
    assert cli.main(["system-identity", "init", "--file", str(identity)]) == 0
    env = built_project.dbt_env("local_system")
    env["TAGLAKE_SYSTEM_IDENTITY"] = str(identity)
    env["TAGLAKE_SYSTEM_DUCKDB_PATH"] = str(db)
    env["DBT_TARGET_PATH"], env["DBT_LOG_PATH"] = str(tmp_path / "target"), str(tmp_path / "logs")
    result = dbt_runner.capture(
        ["run-operation", "rekey_tokens", "--args", "{mapping: main.token_map, new_keys: main.new_keys}"],
        cwd=built_project.root,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    for text in (result.stdout, (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")):
        assert new.k_inner not in text and new.k_outer not in text and old.k_inner not in text
    columns = _local_columns(Project.locate(duckdb_path=db))
    left = []
    with duckdb.connect(str(db), read_only=True) as con:
        schema_of = dict(con.execute("select table_name, table_schema from information_schema.tables").fetchall())
        for table, names in _local_token_columns(columns, set(plan.token_columns)).items():
            for column in names:
                sql = f'select distinct {column} from "{schema_of[table]}".{table}'
                values = {v for (v,) in con.execute(sql).fetchall()}
                if values & old_tokens:
                    left.append(f"{table}.{column}")
    assert left == [], f"tokens under the old key left in {left}"
    state = recorded_key_state(db)
    assert state is not None and (state.key_version, state.key_fingerprint) == (new.key_version, new.fingerprint())
