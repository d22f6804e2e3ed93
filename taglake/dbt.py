"""Run dbt against this checkout's project and profile, as a child process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

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


def run_dbt(project: Project, args: Sequence[str], *, target: str | None = None, check: bool = True) -> int:
    """Run `dbt ARGS` in the project folder; raise DbtError on failure when `check`."""
    if (target or "local").startswith("local"):
        project.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [dbt_executable(), *args]
    result = subprocess.run(cmd, cwd=project.root, env=project.dbt_env(target), check=False)
    if check and result.returncode != 0:
        raise DbtError(f"`dbt {' '.join(args)}` failed with exit code {result.returncode}")
    return result.returncode


def build(project: Project, *, target: str | None = None, extra: Sequence[str] = ()) -> None:
    """Install the (local) packages, then seed, run and test every node: `dbt deps` + `dbt build`."""
    run_dbt(project, ["deps"], target=target)
    run_dbt(project, ["build", *extra], target=target)
