"""`taglake-dbt`, the dbt the MWAA DAG's cosmos task group starts: dbt's own output, redacted line by line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from taglake.core.project import Project

PLANTED = ("A123456789", "Ａ１２３４５６７８９", "0912-345-678")


@pytest.mark.dbt
@pytest.mark.redteam
def test_dbt_run_as_an_executable_prints_no_personal_value_and_keeps_dbts_exit_code(tmp_path: Path) -> None:
    project = Project.locate(artifacts_dir=tmp_path, duckdb_path=tmp_path / "taglake.duckdb")
    executable = Path(sys.executable).with_name("taglake-dbt")
    assert executable.is_file(), "make setup installs the taglake-dbt entry point"
    result = subprocess.run(
        [str(executable), "ls", "--select", *PLANTED],
        cwd=project.root,
        env=project.dbt_env("local"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "does not match any enabled nodes" in result.stdout  # dbt's own words, echoed
    for value in PLANTED:
        assert value not in result.stdout + result.stderr

    failed = subprocess.run(
        [str(executable), "build", "--select", "no_such_model", "--no-such-flag"],
        cwd=project.root,
        env=project.dbt_env("local"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 2  # dbt's usage error, passed through
