"""The hostile-input suite: a planted person in every spelling, in every field of every feed and in malformed
records of each format; a build either stops with a clear error or finishes with no clear value outside the vault —
in any relation, in dbt's target/ and logs/, or on the console. The oracle is plain substring search after NFKC and
casefold (hostile_lake.Oracle), independent of the guard and of `scan-pii`."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_lake import (
    KINDS,
    Oracle,
    break_csv_quote,
    every_spelling,
    make_hostile,
    ragged_csv_rows,
    spellings,
)
from project_copy import run_taglake

from taglake.core.project import Project
from taglake.lake.generate import generate_lake
from taglake.privacy.keys import read_key

pytestmark = [pytest.mark.redteam, pytest.mark.dbt]

LAKE = {"customers": 300, "days": 3, "seed": 5}


@dataclass
class HostileBuild:
    project: Project
    returncode: int
    console: str


def _taglake(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = project.dbt_env()
    env.pop("TAGLAKE_TARGET", None)
    return run_taglake(list(args), env, cwd=project.root)


def _build(work: Path, hostile: Callable[[Path], None]) -> HostileBuild:
    project = Project.locate(
        lake_dir=work / "lake",
        duckdb_path=work / "taglake.duckdb",
        artifacts_dir=work / "artifacts",
        key_file=work / "secrets" / "masking_keys.csv",
    )
    generate_lake(project.lake_dir, progress=False, **LAKE)
    hostile(project.lake_dir)
    init = _taglake(project, "keys", "init")
    assert init.returncode == 0, init.stderr
    result = _taglake(project, "build")
    return HostileBuild(project, result.returncode, result.stdout + result.stderr)


def _leaks(build: HostileBuild) -> list[str]:
    key = read_key(build.project.key_file)
    oracle = Oracle({"key_material": [key.k_inner, key.k_outer]})
    leaks = oracle.scan_database(build.project.duckdb_path)
    leaks += oracle.scan_files([build.project.target_path, build.project.log_path])
    leaks += oracle.scan_text(build.console, "console")
    return [str(leak) for leak in leaks]


def test_the_oracle_finds_every_spelling_it_plants() -> None:
    oracle = Oracle()
    for kind, text in every_spelling():
        assert kind in oracle.kinds_in(f'{{"x": "{text}"}}'), (kind, len(text))
    assert all(spellings(kind) for kind in KINDS)
    assert not oracle.kinds_in("0" * 64 + " ***@tlcanary.tw *******846 新竹縣 竹北市")


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> HostileBuild:
    return _build(tmp_path_factory.mktemp("hostile"), make_hostile)


def test_a_hostile_lake_leaks_nothing_anywhere(hostile_build: HostileBuild) -> None:
    assert _leaks(hostile_build) == []


def test_a_well_formed_hostile_lake_is_built_not_refused(hostile_build: HostileBuild) -> None:
    # Hostile values in well-formed records are quarantined or withheld row by row: no source can stop the build
    # by planting a value, and the build reports no traceback.
    assert "Traceback" not in hostile_build.console
    assert hostile_build.returncode == 0, hostile_build.console[-3000:]


@pytest.mark.parametrize(
    ("variant", "said"),
    [
        (break_csv_quote, "a quote opens and never closes (the file ends inside it); close it"),
        (ragged_csv_rows, "a row with 3 fields where the header has"),
    ],
    ids=["broken-csv-quote", "ragged-csv-rows"],
)
def test_a_malformed_csv_is_refused_before_dbt_naming_file_and_line_and_leaks_nothing(
    variant: Callable[[Path], tuple[Path, int]], said: str, tmp_path: Path
) -> None:
    # DuckDB's reader cannot load such a file row by row (it fails the whole table, naming neither file nor line):
    # the pre-flight refuses it first, one line naming the file relative to the lake and the line, never a value.
    planted: list[tuple[Path, int]] = []
    build = _build(tmp_path, lambda lake: planted.append(variant(lake)))
    [(path, line)] = planted
    where = path.relative_to(build.project.lake_dir).as_posix()
    assert build.returncode != 0
    named = [text for text in build.console.splitlines() if where in text]
    assert len(named) == 1, build.console[-3000:]
    assert named[0].startswith(f"taglake: check-lake: {where}: line {line}: {said}"), named[0]
    assert not (build.project.target_path / "run_results.json").exists()  # dbt never ran
    assert "Traceback" not in build.console
    assert _leaks(build) == []
