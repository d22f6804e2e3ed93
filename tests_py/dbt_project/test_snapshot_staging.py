"""macros/history/snapshot_staging.sql (duckdb__snapshot_staging_table) against dbt's own
default__snapshot_staging_table: the same snapshot runs over the same source versions give the same snapshot
tables, row for row and column for column, for every shape of snapshot the project has (timestamp on a list key
with new_record, timestamp on one key with invalidate, check with new_record) and for hard_deletes ignore.

A tiny dbt project of its own: one source model whose rows each step sets (insert, change, no change, leave, stay
gone, come back), four snapshots over it, and snapshot_get_time pinned to each step's clock so that the two runs
hash the same dbt_scd_id. One copy holds the project's macros (its staging, through a temporary view that the
merge reads twice: the versions to close, kept first, then the rows to insert), the other does not (dbt's default
staging into a temporary table, then dbt-duckdb's merge)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from tiny_dbt_project import DATABASE, TABLE_STORAGE_MACROS, run_dbt, tiny_project

pytestmark = pytest.mark.dbt

# The source's rows per step: (id, k1, k2, updated_at, val). `id` is one key; (k1, k2) is a list key.
STEPS: list[list[tuple[str, str, str, str, float]]] = [
    [("a", "c1", "m1", "2026-01-01", 0.1), ("b", "c2", "m1", "2026-01-01", 0.2), ("c", "c3", "m1", "2026-01-01", 0.3)],
    # a: a new run with the same value; b: unchanged; c: leaves; d: new
    [("a", "c1", "m1", "2026-01-02", 0.1), ("b", "c2", "m1", "2026-01-01", 0.2), ("d", "c4", "m2", "2026-01-02", 0.4)],
    # b leaves; c comes back; d's value changes without a new timestamp (only check sees it)
    [("a", "c1", "m1", "2026-01-02", 0.1), ("c", "c3", "m1", "2026-01-03", 0.3), ("d", "c4", "m2", "2026-01-02", 0.5)],
    # nothing changes; b stays gone (recorded once)
    [("a", "c1", "m1", "2026-01-02", 0.1), ("c", "c3", "m1", "2026-01-03", 0.3), ("d", "c4", "m2", "2026-01-02", 0.5)],
    # b comes back; everyone else leaves
    [("b", "c2", "m1", "2026-01-05", 0.2)],
    # c comes back with the very version it left with: its new row hashes the dbt_scd_id of a closed version, which
    # the merge must not close again (it is inserted and stays current, as dbt's order leaves it)
    [("b", "c2", "m1", "2026-01-05", 0.2), ("c", "c3", "m1", "2026-01-03", 0.3)],
]

SNAPSHOTS = {
    "snap_ts_list": "{unique_key: [k1, k2], strategy: timestamp, updated_at: updated_at, hard_deletes: new_record}",
    "snap_ts_one": "{unique_key: id, strategy: timestamp, updated_at: updated_at, hard_deletes: invalidate}",
    "snap_check": "{unique_key: id, strategy: check, check_cols: [val], hard_deletes: new_record}",
    "snap_ignore": "{unique_key: id, strategy: timestamp, updated_at: updated_at, hard_deletes: ignore}",
}


def _source_sql() -> str:
    branches = []
    for step, rows in enumerate(STEPS):
        values = ", ".join(f"('{i}', '{k1}', '{k2}', timestamp '{u}', cast({v} as double))" for i, k1, k2, u, v in rows)
        branches.append(
            f"{{% {'if' if step == 0 else 'elif'} var('step') == {step} %}}\n"
            f"select * from (values {values}) as t(id, k1, k2, updated_at, val)"
        )
    return "{{ config(materialized='table') }}\n" + "\n".join(branches) + "\n{% endif %}\n"


def _project(folder: Path, *, with_macro: bool) -> Path:
    snapshots = "snapshots:\n" + "".join(
        f"  - name: {name}\n    relation: ref('src')\n    config: {config}\n" for name, config in SNAPSHOTS.items()
    )
    return tiny_project(
        folder,
        macros=["engines/cte_inlining.sql", *TABLE_STORAGE_MACROS] if with_macro else [],
        models={"src": _source_sql()},
        files={
            "snapshots/snaps.yml": snapshots,
            # Each step's clock, so that both runs stamp and hash the same times.
            "macros/clock.sql": (
                "{% macro duckdb__snapshot_get_time() %}cast('{{ var(\"now\") }}' as timestamp){% endmacro %}\n"
            ),
        },
        project_yml="vars: {step: 0, now: '2026-02-01'}\n",
        threads=1,
    )


def _run_steps(folder: Path) -> dict[str, list[tuple[object, ...]]]:
    for step in range(len(STEPS)):
        vars_ = f"{{step: {step}, now: '2026-02-0{step + 1} 12:00:00'}}"
        for command in (["run"], ["snapshot"]):
            result = run_dbt(folder, *command, "--vars", vars_)
            assert result.returncode == 0, f"step {step} {command[0]}: {result.stdout[-3000:]}"
    with duckdb.connect(str(folder / DATABASE), read_only=True) as con:
        out = {}
        for name in SNAPSHOTS:
            table = f"main.{name}"
            columns = [r[0] for r in con.execute(f"select column_name from (describe {table})").fetchall()]
            out[name] = sorted(
                con.execute(f"select {', '.join(columns)} from {table}").fetchall(), key=lambda r: tuple(map(str, r))
            )
            out[f"{name} columns"] = [tuple(columns)]
    return out


@pytest.fixture(scope="module")
def both_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, Path]:
    work = tmp_path_factory.mktemp("snapshot_staging")
    ours = _project(work / "ours", with_macro=True)
    return _run_steps(ours), _run_steps(_project(work / "dbt_default", with_macro=False)), ours


def test_the_project_macro_stages_what_dbt_default_stages(both_runs: tuple[dict, dict, Path]) -> None:
    ours, default, _ = both_runs
    assert ours.keys() == default.keys()
    for name in ours:
        assert ours[name] == default[name], f"{name} differs from dbt's default staging"


def test_the_scenario_exercises_every_kind_of_change(both_runs: tuple[dict, dict, Path]) -> None:
    ours, _, _ = both_runs
    columns = ours["snap_ts_list columns"][0]
    rows = [dict(zip(columns, r, strict=True)) for r in ours["snap_ts_list"]]
    # a: two versions (a second run), c: left, came back, left and came back with the same version, b: left once
    # and came back, d: left at the end
    versions = {k1: [r for r in rows if r["k1"] == k1] for k1 in ("c1", "c2", "c3", "c4")}
    assert len([r for r in versions["c1"] if r["dbt_is_deleted"] == "False"]) == 2
    assert len([r for r in versions["c2"] if r["dbt_is_deleted"] == "True"]) == 1, "b was recorded gone more than once"
    c_versions = [r for r in versions["c3"] if r["dbt_is_deleted"] == "False"]
    assert len(c_versions) == 3
    returned = [r for r in c_versions if r["updated_at"].day == 3]
    assert len({r["dbt_scd_id"] for r in returned}) == 1, "the returning version should hash the closed one's id"
    assert sorted(r["dbt_valid_to"] is None for r in returned) == [False, True], "one closed, the returned current"
    assert all(r["dbt_valid_to"] is not None for r in versions["c1"] if r["dbt_is_deleted"] == "False")
    check_columns = ours["snap_check columns"][0]
    d_values = {
        dict(zip(check_columns, r, strict=True))["val"]
        for r in ours["snap_check"]
        if dict(zip(check_columns, r, strict=True))["id"] == "d"
    }
    assert {0.4, 0.5} <= d_values, "check strategy did not see d's new value"
    one_columns = ours["snap_ts_one columns"][0]
    closed = [dict(zip(one_columns, r, strict=True)) for r in ours["snap_ts_one"]]
    assert any(r["id"] == "c" and r["dbt_valid_to"] is not None for r in closed), "invalidate closed nothing"


def test_the_project_macro_is_the_one_dbt_ran(both_runs: tuple[dict, dict, Path]) -> None:
    _, _, ours = both_runs
    log = (ours / "logs" / "dbt.log").read_text(encoding="utf-8", errors="replace")
    assert "anti join" in log and "dbt_replaced_scd_id" in log
    # the staging relation a view, dropped as a view; the only temporary table the versions to close, kept before
    # the insert, read by the update after it, and dropped
    assert 'create temporary view "snap_ts_list__dbt_tmp' in log
    tables = re.findall(r'create temporary table "([^"]+)"', log)
    assert tables and all(name.startswith("snap_") and name.endswith("__closing") for name in tables)
    closing = log.index('create temporary table "snap_ts_list__dbt_tmp')
    insert = log.index('insert into "tiny"."main"."snap_ts_list"', closing)
    update = log.index('update "tiny"."main"."snap_ts_list" as snapshotted', insert)
    assert log.index('__closing" as closing', update) < log.index('drop table "snap_ts_list__dbt_tmp', update)
    assert 'drop view if exists "snap_ts_list__dbt_tmp' in log
