"""A tiny dbt project of a test's own, on DuckDB: the project's macro files it names copied in, its models, YAML and
other files written, one database file in the project folder; and dbt run in it (dbt_runner.capture)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from taglake.core.project import Project
from taglake.privacy import dbt_runner

DATABASE = "tiny.duckdb"
# The macro files DuckDB's table writes need in a tiny project: the create statement (engines/table_storage.sql), the
# months it fills a marked table by (engines/month_parts.sql) and the temporary views it gives a model that inserts
# from its query (incremental/insert_from_query.sql) and a snapshot's staging (history/snapshot_staging.sql, with the
# merge that reads it).
TABLE_STORAGE_MACROS = (
    "engines/table_storage.sql",
    "engines/month_parts.sql",
    "incremental/insert_from_query.sql",
    "history/snapshot_staging.sql",
)


def tiny_project(
    folder: Path,
    *,
    macros: Sequence[str] = (),
    models: Mapping[str, str] | None = None,
    files: Mapping[str, str] | None = None,
    project_yml: str = "",
    threads: int = 2,
) -> Path:
    """`folder` as a dbt project named taglake: `macros` are paths under the checkout's macros/ (copied in),
    `models` maps a model name to its SQL, `files` a path in the project to its text (YAML, snapshots, macros of the
    test's own), `project_yml` is appended to dbt_project.yml."""
    folder.mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(
        "name: taglake\nversion: '1.0'\nprofile: tiny\nconfig-version: 2\nmodel-paths: [models]\n"
        "macro-paths: [macros]\nsnapshot-paths: [snapshots]\n" + project_yml,
        encoding="utf-8",
    )
    (folder / "profiles.yml").write_text(
        "tiny:\n  target: local\n  outputs:\n    local:\n      type: duckdb\n"
        f"      path: '{folder / DATABASE}'\n      threads: {threads}\n",
        encoding="utf-8",
    )
    for sub in ("models", "macros", "snapshots"):
        (folder / sub).mkdir()
    checkout = Project.locate().root / "macros"
    for name in macros:
        shutil.copyfile(checkout / name, folder / "macros" / Path(name).name)
    for name, sql in (models or {}).items():
        (folder / "models" / f"{name}.sql").write_text(sql.rstrip("\n") + "\n", encoding="utf-8")
    for name, text in (files or {}).items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def run_dbt(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dbt ARGS` in the tiny project (its own profiles.yml), output captured."""
    return dbt_runner.capture(list(args), cwd=folder, env={**os.environ, "DBT_PROFILES_DIR": str(folder)})


def declared_columns(folder: Path, table: str) -> list[tuple[str, str, str]]:
    """(name, type, nullable) of each column of the tiny project's table `table`, in order."""
    import duckdb

    with duckdb.connect(str(folder / DATABASE), read_only=True) as con:
        return con.execute(
            "select column_name, data_type, is_nullable from information_schema.columns "
            "where table_name = ? order by ordinal_position",
            [table],
        ).fetchall()
