"""Every analysis analysts start from compiles for the local target and returns rows on the test build."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pytest

from taglake.core.checkout import find_project_dir
from taglake.core.project import Project
from taglake.privacy.dbt_runner import run_dbt

pytestmark = pytest.mark.dbt

ANALYSES = sorted(p.stem for p in (find_project_dir() / "analyses").glob("*.sql"))


def test_there_are_at_least_eight_analyses_each_saying_what_it_answers() -> None:
    assert len(ANALYSES) >= 8
    for name in ANALYSES:
        text = (find_project_dir() / "analyses" / f"{name}.sql").read_text(encoding="utf-8")
        assert text.startswith("-- ") and "?" in text.split("\n\n")[0], f"{name}: no opening question comment"


@pytest.fixture(scope="module")
def compiled(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every analysis compiled for `local` in one dbt call, into a target folder of its own."""
    project = dataclasses.replace(built_project, target_path=tmp_path_factory.mktemp("analyses") / "target")
    run_dbt(project, ["compile", "--select", "resource_type:analysis"], target="local", quiet=True)
    found = {
        Path(p).stem: Path(p).read_text(encoding="utf-8") for p in project.target_path.glob("compiled/*/analyses/*.sql")
    }
    assert set(found) == set(ANALYSES)
    return found


@pytest.mark.parametrize("name", ANALYSES)
def test_the_analysis_runs_and_returns_rows(name: str, compiled: dict[str, str], built_project: Project) -> None:
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        rel = con.sql(compiled[name])
        rows = rel.fetchall()
        columns = rel.columns
    assert rows, f"{name} returned no rows"
    assert len(set(columns)) == len(columns), f"{name}: duplicate column names"
