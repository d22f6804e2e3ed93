"""A private copy of the dbt project, with its own lake, database, artifacts and key, free to be broken; and `dbt`,
which runs dbt in a project and hands back what it printed. The copy's key is made explicitly (`init_key`, what
`taglake keys init` runs): nothing makes a key on its own."""

from __future__ import annotations

import subprocess
from pathlib import Path

from taglake.core.project import Project
from taglake.core.scratch import copy_project_files
from taglake.privacy.dbt_runner import dbt_executable
from taglake.privacy.keys import init_key


def copy_project(work: Path) -> Project:
    """Copy the checkout's dbt project into `work` and return a Project whose every path is under `work`."""
    copy_project_files(Project.locate().root, work)
    project = Project(
        root=work,
        lake_dir=work / "lake",
        duckdb_path=work / "build" / "t.duckdb",
        target_path=work / "target",
        log_path=work / "logs",
        key_file=work / ".secrets" / "keys.csv",
    )
    init_key(project.key_file)
    return project


def dbt(project: Project, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`dbt ARGS` in `project` on the local target (or with `env`), output captured, never raising on failure."""
    return subprocess.run(
        [dbt_executable(), *args],
        cwd=project.root,
        env=env or project.dbt_env("local"),
        capture_output=True,
        text=True,
        check=False,
    )
