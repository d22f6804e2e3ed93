"""A private copy of the dbt project, with its own lake, database, artifacts and key, free to be broken; and `dbt`,
which runs dbt in a project and hands back what it printed. The copy's key is made explicitly (`init_key`, what
`taglake keys init` runs): nothing makes a key on its own.

For tests of the command line that need no copy: `scratch_project` (the checkout with its lake, database, artifacts
and key file elsewhere), `scratch_env` (the environment `taglake` runs with on it) and `run_taglake` (the command
in-process; `run_taglake_process` as a child process)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

from dbt_in_process import environment

from taglake.core.project import Project
from taglake.core.scratch import copy_project_files
from taglake.privacy import dbt_runner
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
    """`dbt ARGS` in `project` on the local target (or with `env`), output captured, never raising on failure;
    in-process unless the test is marked `fresh_process` (tests_py/dbt_in_process.py)."""
    return dbt_runner.capture(args, cwd=project.root, env=env or project.dbt_env("local"))


def scratch_project(work: Path) -> Project:
    """The checkout's project (not copied) with its lake, database, artifacts and key file under `work`; no key is
    made (tests that need one call `init_key` or `taglake keys init`)."""
    return Project.locate(
        lake_dir=work / "lake",
        duckdb_path=work / "build" / "t.duckdb",
        artifacts_dir=work / "artifacts",
        key_file=work / "secrets" / "keys.csv",
    )


# Variables of the developer's shell that would change what a test of the command line sees.
AMBIENT = ("DBT_TARGET", "TAGLAKE_TARGET", "TAGLAKE_SYSTEM_IDENTITY", "TAGLAKE_DEBUG")


def scratch_env(work: Path, target: str | None = None, **extra: str) -> dict[str, str]:
    """The environment `taglake` runs with on `scratch_project(work)`: no ambient target, system identity or debug
    switch, then `target` (TAGLAKE_TARGET) and `extra`."""
    env = {k: v for k, v in scratch_project(work).dbt_env().items() if k not in AMBIENT}
    if target:
        env["TAGLAKE_TARGET"] = target
    env.update(extra)
    return env


def run_taglake(
    args: list[str], env: dict[str, str] | None = None, *, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`taglake ARGS` as its command line runs it (taglake.cli.main), in this process: in `cwd` (default the
    checkout), with exactly the environment `env` (default this one), stdout and stderr captured apart, the exit
    code main returns. The dbt it runs is in-process too (tests_py/dbt_in_process.py). A child process, where that
    is the point of the test: run_taglake_process."""
    from taglake import cli

    out, err = io.StringIO(), io.StringIO()
    folder = cwd or Project.locate().root
    with (
        environment(dict(os.environ) if env is None else env, folder),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        code = cli.main(args)
    return subprocess.CompletedProcess(["taglake", *args], code, out.getvalue(), err.getvalue())


def run_taglake_process(
    args: list[str], env: dict[str, str] | None = None, *, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`taglake ARGS` as a child process (`python -m taglake`), output captured, never raising on failure."""
    return subprocess.run(
        [sys.executable, "-m", "taglake", *args],
        cwd=cwd or Project.locate().root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
