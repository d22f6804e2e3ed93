"""Compile a Jinja-SQL snippet of this project for a target, offline for the AWS targets, as DuckDB SQL."""

from __future__ import annotations

import json
import subprocess

from taglake.core.project import Project
from taglake.privacy.dbt_runner import dbt_executable, prepare_local
from taglake.verify.offline_compile import offline_env
from taglake.verify.transpile import to_duckdb

COMPILE = ("--quiet", "--no-populate-cache", "compile", "--no-introspect", "--output", "json", "--inline")


def compiled_for_duckdb(target: str, sql: str) -> str:
    """`sql` compiled for `target` (local, athena or redshift); the AWS SQL translated to DuckDB
    (taglake.verify.transpile). Raises AssertionError with dbt's output when the compile fails."""
    project = Project.locate()
    env = project.dbt_env(target) if target == "local" else offline_env(project, target)
    prepare_local(project, target if target == "local" else None)
    result = subprocess.run(
        [dbt_executable(), *COMPILE, sql], cwd=project.root, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    compiled = json.loads(result.stdout)["compiled"]
    return compiled if target == "local" else to_duckdb(compiled, target)
