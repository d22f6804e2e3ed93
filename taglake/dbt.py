"""Run dbt against this checkout's project and profile, as a child process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from taglake.keys import ensure_key
from taglake.project import Project


class DbtError(RuntimeError):
    """dbt exited non-zero."""


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if not found:
        raise DbtError("dbt is not installed: run `make setup` first")
    return found


def prepare_local(project: Project, target: str | None) -> None:
    """What a local (DuckDB) target needs before dbt runs: the database folder, and the masking key file, made
    with strong randomness on first use."""
    if (target or os.environ.get("TAGLAKE_TARGET") or "local").startswith("local"):
        project.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        ensure_key(project.key_file)


def run_dbt(
    project: Project, args: Sequence[str], *, target: str | None = None, check: bool = True, quiet: bool = False
) -> int:
    """Run `dbt ARGS` in the project folder; raise DbtError on failure when `check`. With `quiet`, dbt's output is
    shown only if it fails."""
    prepare_local(project, target)
    cmd = [dbt_executable(), *args]
    result = subprocess.run(
        cmd, cwd=project.root, env=project.dbt_env(target), check=False, capture_output=quiet, text=quiet
    )
    if quiet and result.returncode != 0:
        print(result.stdout, result.stderr, sep="", end="")
    if check and result.returncode != 0:
        raise DbtError(f"`dbt {' '.join(args)}` failed with exit code {result.returncode}")
    return result.returncode


def build(project: Project, *, target: str | None = None, extra: Sequence[str] = ()) -> None:
    """Install the (local) packages, then seed, run and test every node: `dbt deps` + `dbt build`."""
    run_dbt(project, ["deps"], target=target)
    run_dbt(project, ["build", *extra], target=target)


def compile_inline(project: Project, sql: str, *, target: str | None = None) -> str:
    """Compile a Jinja-SQL snippet for a target without touching its database (no cache, no introspection), so
    the AWS targets compile offline; returns the SQL the target's adapter would run."""
    cmd = [
        dbt_executable(),
        "--quiet",
        "--no-populate-cache",
        "compile",
        "--no-introspect",
        "--output",
        "json",
        "--inline",
        sql,
    ]
    prepare_local(project, target)
    result = subprocess.run(
        cmd, cwd=project.root, env=project.dbt_env(target), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise DbtError(f"dbt compile --inline failed for target {target or 'local'}:\n{result.stdout}{result.stderr}")
    return json.loads(result.stdout)["compiled"]
