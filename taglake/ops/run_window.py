"""The daily run's window: what the data tests and the privacy guard of each incremental model check.

Before the build, the runner reads the newest value of each incremental model's window column (the first of the var
`run_window_columns` its table has: `landing_date`, or `landed_through` for an aggregate replaced per group) and
passes them to `dbt build` in the environment variable TAGLAKE_RUN_WINDOW (JSON {model: 'YYYY-MM-DD'}; not a --vars
value, which would make dbt parse the whole project again each day). dbt applies the lookback to each
(macros/incremental/run_window.sql, with the same macro the models' own window uses), so a model's tests and its
guard check the rows its run rewrote: a windowed test's `where` (`__landing_window__`, `__keys_in_landing_window__`)
and the guard's content check. No window — every test and the guard check whole tables, as in a full build — when the
build is a `--full-refresh`, the target is not local (the windows are read from the local DuckDB file), the database
or dbt's manifest is not there yet, or reading them fails; a model whose table is missing, empty or without a
window column is left out of the window (its first build: it is checked whole). docs/daily-runs.md says why the window
cannot be read inside dbt.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb

from taglake.core import targets
from taglake.core.artifacts import ArtifactError, read_raw
from taglake.core.project import RUN_CHANGES_ENV, RUN_WINDOW_ENV, Project
from taglake.core.sources import project_var
from taglake.privacy.dbt_runner import local_database

# dbt's own environment variable for --exclude-resource-type
EXCLUDED_RESOURCES_ENV = "DBT_EXCLUDE_RESOURCE_TYPES"


def incremental_relations(manifest_path: Path) -> dict[str, tuple[str, str]]:
    """Each enabled incremental model of dbt's manifest.json: name → (schema, table); empty when there is none."""
    if not manifest_path.is_file():
        return {}
    try:
        # read as dbt wrote it (kind and version checked): the typed reader's schema check costs seconds
        nodes = read_raw(manifest_path, "manifest", 12, "dbt parse").get("nodes", {})
    except ArtifactError:
        return {}
    return {
        node["name"]: (node["schema"], node.get("alias") or node["name"])
        for node in nodes.values()
        if node.get("resource_type") == "model"
        and node.get("config", {}).get("materialized") == "incremental"
        and node.get("config", {}).get("enabled", True)
    }


def newest_landings(project: Project, target: str | None, build_args: Sequence[str] = ()) -> dict[str, date]:
    """The newest value of its window column (var run_window_columns) each incremental model's table holds now
    (before the build), on a local target;
    empty — check everything — for a full refresh, another engine, a database or manifest not there yet, or a
    database that cannot be read."""
    if "--full-refresh" in build_args or not targets.is_local(target, project.root):
        return {}
    relations = incremental_relations(project.target_path / "manifest.json")
    db = local_database(project, target)
    if not relations or not db.is_file():
        return {}
    columns: list[str] = list(project_var("run_window_columns", project.root))
    found: dict[str, date] = {}
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            present: dict[tuple[str, str], set[str]] = {}
            for schema, table, column in con.execute(
                "select table_schema, table_name, lower(column_name) from information_schema.columns"
                " where lower(column_name) in (select unnest(?::varchar[]))",
                [columns],
            ).fetchall():
                present.setdefault((schema, table), set()).add(column)
            for name, (schema, table) in sorted(relations.items()):
                # the model's window column: the first of run_window_columns its table has
                column = next((c for c in columns if c in present.get((schema, table), set())), None)
                if column is None:
                    continue
                quoted = ".".join('"' + part.replace('"', '""') + '"' for part in (schema, table))
                newest = con.execute(f'select max("{column}") from {quoted}').fetchone()
                if newest and isinstance(newest[0], date):
                    found[name] = newest[0]
    except duckdb.Error:
        return {}
    return found


def window_json(landings: dict[str, date]) -> str:
    """The window as RUN_WINDOW_ENV holds it: JSON {model: 'YYYY-MM-DD'}, sorted by model (`{}`: no window)."""
    return json.dumps({name: day.isoformat() for name, day in sorted(landings.items())})


def window_env(landings: dict[str, date], changes: dict[str, date | None] | None = None) -> dict[str, str]:
    """The environment a daily run's `dbt build` gets on top of the project's (Project.dbt_env): the window
    (RUN_WINDOW_ENV, JSON {model: 'YYYY-MM-DD'}) when there is one, with the raw partitions changed since the last
    run that passed (RUN_CHANGES_ENV, taglake.ops.run_ledger) when the runner knows them, and unit tests left out
    of the run. A unit test
    checks a model's SQL on fixed inputs, not the day's data: CI and every full build run them (dbt advises running
    them in development and CI, not in production runs); a scheduled day does not repeat them."""
    env = {EXCLUDED_RESOURCES_ENV: "unit_test"}
    if landings:
        env[RUN_WINDOW_ENV] = window_json(landings)
        if changes:
            env[RUN_CHANGES_ENV] = json.dumps(
                {name: (day.isoformat() if day else None) for name, day in sorted(changes.items())}
            )
    return env


def window_detail(landings: dict[str, date], changes: dict[str, date | None] | None = None) -> str:
    """`tests and guard of N incremental models on their landing windows` / `whole tables tested`, and how many of
    the windows start at the raw partitions that changed (`M narrowed to changed partitions`)."""
    if not landings:
        return "whole tables tested"
    narrowed = f", {len(changes)} narrowed to changed partitions" if changes else ""
    return f"tests and guard of {len(landings)} incremental models on their landing windows{narrowed}"
