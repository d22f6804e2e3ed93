"""Compile a Jinja-SQL snippet of this project for a target, offline for the AWS targets, as DuckDB SQL."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from taglake.core.project import Project
from taglake.privacy.dbt_runner import DbtError, compile_inline_offline, prepare_local
from taglake.verify.offline_compile import offline_env
from taglake.verify.transpile import to_duckdb


@functools.cache
def _work() -> Path:
    """A folder of this test run for the snippets' target/, logs/ and (never written) database: a compile must not
    read the checkout's own build, which another key may have made."""
    return Path(tempfile.mkdtemp(prefix="taglake-snippets-"))


def compiled_for_duckdb(target: str, sql: str) -> str:
    """`sql` compiled for `target` (local, athena or redshift); the AWS SQL translated to DuckDB
    (taglake.verify.transpile). Raises AssertionError with dbt's output when the compile fails."""
    work = _work()
    project = Project.locate(artifacts_dir=work / target, duckdb_path=work / "taglake.duckdb")
    env = project.dbt_env(target) if target == "local" else offline_env(project, target)
    prepare_local(project, target if target == "local" else None)
    try:
        compiled = compile_inline_offline(project, sql, env=env, what=f"the snippet for {target}")
    except DbtError as failed:
        raise AssertionError(str(failed)[-3000:]) from None
    return compiled if target == "local" else to_duckdb(compiled, target)
