"""A project whose target/ holds the session build's artifacts as the last `dbt build` left them (manifest, the
build's run_results, the catalog of `dbt docs generate`), for the lineage tests (tests_py/ops/test_lineage*.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from taglake.core.project import Project


def build_artifacts_project(built: Project, work: Path) -> Project:
    """A copy of `built`'s build artifacts under `work` (the shared build's own target/ is never changed): the
    manifest and catalog of its docs generate and the build's run_results.json, as the session fixture kept them
    (target/ itself may since hold a later command's manifest, without the models' compiled SQL)."""
    project = Project.locate(
        lake_dir=built.lake_dir, duckdb_path=built.duckdb_path, artifacts_dir=work, key_file=built.key_file
    )
    project.target_path.mkdir(parents=True)
    for name in ("manifest.json", "catalog.json"):
        shutil.copy2(built.duckdb_path.parent / f"build_{name}", project.target_path / name)
    shutil.copy2(built.duckdb_path.parent / "build_run_results.json", project.target_path / "run_results.json")
    return project


def datahub_venv(root: Path) -> Path:
    """The DataHub tool venv, made on first use and reused after: what `make venv-datahub` prints."""
    done = subprocess.run(
        ["make", "-s", "--no-print-directory", "venv-datahub"], cwd=root, capture_output=True, text=True, check=True
    )
    return Path(done.stdout.strip().splitlines()[-1])
