"""Every model, test and analysis compiles against a database nothing was built in yet (`dbt compile`, `dbt docs
generate` and sqlfluff's dbt templater on a fresh clone): a macro that reads a built table at compile time has to do
without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_copy import run_taglake, scratch_env


@pytest.mark.dbt
def test_every_node_compiles_before_anything_is_built(tmp_path: Path) -> None:
    env = scratch_env(tmp_path)
    assert run_taglake(["keys", "init"], env).returncode == 0
    result = run_taglake(["dbt", "compile"], env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    compiled = sorted((tmp_path / "artifacts").rglob("int_app_activity_summarized.sql"))
    assert compiled, "the model was not compiled"
