"""Shared fixtures: one small generated lake and one local dbt build of it per test session."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dbt_in_process import InProcessDbt

from taglake.core.project import Project
from taglake.lake.generate import generate_lake
from taglake.ops.local_build import build
from taglake.privacy import dbt_runner
from taglake.privacy.dbt_runner import run_dbt
from taglake.privacy.keys import init_key
from taglake.verify.offline_compile import CompiledProject

# Small, but with a defect rate high enough that every defect kind occurs.
BUILD_LAKE = {"customers": 400, "days": 12, "seed": 7, "defect_rate": 0.03}


# dbt_runner's own child-process launch and capture, for the tests marked `fresh_process`.
_CHILD_PROCESS = {"launch": dbt_runner.launch, "capture": dbt_runner.capture}


@pytest.fixture(scope="session", autouse=True)
def in_process_dbt() -> Iterator[InProcessDbt]:
    """dbt runs inside the test process for the whole session, each distinct project parsed once
    (tests_py/dbt_in_process.py); a test marked `fresh_process` gets dbt as a child process again."""
    runner = InProcessDbt()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dbt_runner, "launch", runner.launch)
        patch.setattr(dbt_runner, "capture", runner.capture)
        yield runner


@pytest.fixture(autouse=True)
def _fresh_process_when_marked(request: pytest.FixtureRequest, in_process_dbt: InProcessDbt) -> Iterator[None]:
    """For a test marked `fresh_process`: dbt_runner's own child-process launch and capture."""
    if request.node.get_closest_marker("fresh_process") is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dbt_runner, "launch", _CHILD_PROCESS["launch"])
        patch.setattr(dbt_runner, "capture", _CHILD_PROCESS["capture"])
        yield


@pytest.fixture(scope="session", autouse=True)
def session_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The masking key every test uses unless it names its own: made explicitly here (what `taglake keys init`
    runs; nothing makes a key on its own) and exported as TAGLAKE_KEY_FILE, so that no test reads or makes the
    checkout's own .secrets/ key."""
    key_file = tmp_path_factory.mktemp("session_key") / "secrets" / "masking_keys.csv"
    init_key(key_file)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TAGLAKE_KEY_FILE", str(key_file))
        yield key_file


@pytest.fixture(scope="session")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A local build of a freshly generated small lake, with its own database, target/ and logs/."""
    work = tmp_path_factory.mktemp("build")
    project = Project.locate(
        lake_dir=work / "lake",
        duckdb_path=work / "taglake.duckdb",
        artifacts_dir=work / "artifacts",
        key_file=work / "secrets" / "masking_keys.csv",
    )
    generate_lake(project.lake_dir, progress=False, **BUILD_LAKE)
    init_key(project.key_file)  # explicitly: nothing makes a key on its own (taglake keys init)
    build(project, target="local")
    shutil.copy2(project.target_path / "run_results.json", work / "build_run_results.json")
    run_dbt(project, ["docs", "generate"], target="local")  # the docs site and catalog are scanned too
    # the manifest and catalog as the build and docs generate left them: later commands in this project (a query's
    # offline compile, a test's parse) rewrite target/manifest.json without the models' compiled SQL
    for name in ("manifest.json", "catalog.json"):
        shutil.copy2(project.target_path / name, work / f"build_{name}")
    yield project


@pytest.fixture(scope="session")
def build_run_results(built_project: Project) -> dict:
    """run_results.json of the `dbt build` behind `built_project` (before docs generate replaced it)."""
    path = built_project.duckdb_path.parent / "build_run_results.json"
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def built_manifest(built_project: Project) -> dict:
    """The generator's manifest of the lake `built_project` was built from."""
    return json.loads((built_project.lake_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def dbt_manifest(built_project: Project) -> dict:
    """dbt's manifest.json of that build."""
    return json.loads((built_project.target_path / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def source_pii_columns(dbt_manifest: dict) -> dict[str, str]:
    """Every source column classified as personal data, name → class, from the source YAML (`meta.pii`)."""
    found: dict[str, str] = {}
    for node in dbt_manifest["sources"].values():
        for name, column in node["columns"].items():
            pii = (column.get("meta") or {}).get("pii")
            if pii:
                found[name] = pii
    return found


@pytest.fixture(scope="session")
def aws_compiled(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], CompiledProject]:
    """Every node compiled offline for an AWS target (athena, redshift, athena_system, redshift_system), once per
    session and target: `aws_compiled("athena")`."""
    from taglake.verify.offline_compile import compile_project

    work = tmp_path_factory.mktemp("aws_compiled")
    cache: dict[str, CompiledProject] = {}

    def compiled(target: str) -> CompiledProject:
        if target not in cache:
            cache[target] = compile_project(Project.locate(), target, artifacts_dir=work)
        return cache[target]

    return compiled
