"""The tests' in-process dbt (tests_py/dbt_in_process.py): one parse per distinct project, never a stale one."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt_in_process import InProcessDbt, environment, parse_key, project_fingerprint

from taglake.core.project import Project
from taglake.core.scratch import copy_project_files
from taglake.privacy import dbt_runner


def _copy(work: Path) -> Path:
    copy_project_files(Project.locate().root, work)
    return work


def test_a_copy_of_the_unchanged_project_shares_the_parse_and_any_change_makes_a_new_one(tmp_path: Path) -> None:
    checkout = Project.locate().root
    copy = _copy(tmp_path / "copy")
    assert project_fingerprint(copy) == project_fingerprint(checkout)
    model = next((copy / "models" / "marts").rglob("*.sql"))
    model.write_text(model.read_text(encoding="utf-8") + "\n-- changed\n", encoding="utf-8")
    assert project_fingerprint(copy) != project_fingerprint(checkout)


def test_what_a_parse_reads_is_in_the_key_and_where_dbt_writes_is_not(tmp_path: Path) -> None:
    root = Project.locate().root
    base = {"TAGLAKE_DUCKDB_PATH": "/a/taglake.duckdb", "DBT_TARGET_PATH": "/a/target", "TAGLAKE_LAKE_DIR": "/a"}
    same = {"TAGLAKE_DUCKDB_PATH": "/b/taglake.duckdb", "DBT_TARGET_PATH": "/b/target", "TAGLAKE_LAKE_DIR": "/b"}
    assert parse_key(["build"], base, root) == parse_key(["build", "--select", "x"], same, root)
    for args, env in (
        (["build", "--vars", "{a: 1}"], base),
        (["build", "--target", "athena"], base),
        (["build"], {**base, "TAGLAKE_TARGET": "local_system"}),
        (["build"], {**base, "TAGLAKE_DUCKDB_PATH": "/a/other.duckdb"}),  # the database's name is its file's stem
        (["build"], {**base, "TAGLAKE_AWS_REGION": "eu-west-1"}),
    ):
        assert parse_key(args, env, root) != parse_key(["build"], base, root), (args, env)


@pytest.mark.dbt
def test_each_run_reads_its_own_lake_and_key_from_the_one_kept_parse(
    in_process_dbt: InProcessDbt, tmp_path: Path
) -> None:
    seen, parses = [], in_process_dbt.parses
    for name in ("one", "two"):
        project = Project.locate(
            lake_dir=tmp_path / name / "lake", artifacts_dir=tmp_path / name, key_file=tmp_path / name / "k.csv"
        )
        env = project.dbt_env("local")
        with environment(env, project.root):
            manifest = in_process_dbt._manifest(["build"], env, project.root)
        assert manifest is not None
        metas = [s.config.meta for s in manifest.sources.values()]
        roots = {m["lake_root"] for m in metas if "lake_root" in m}
        keys = {m["key_file"] for m in metas if "key_file" in m}
        assert roots == {str(project.lake_dir)} and keys == {str(project.key_file)}, (roots, keys)
        seen.append(manifest)
    assert in_process_dbt.parses - parses <= 1  # both from one parse (none when the session already had it)
    assert seen[0] is not seen[1]  # a fresh manifest per run: a run marks the nodes it compiles


def test_in_process_output_is_redacted_as_the_child_process_output_is(
    in_process_dbt: InProcessDbt, tmp_path: Path
) -> None:
    project = Project.locate(artifacts_dir=tmp_path, duckdb_path=tmp_path / "taglake.duckdb")  # the session's parse
    planted = "A123456789"
    code, output = in_process_dbt.launch(
        ["ls", "--select", planted], cwd=project.root, env=project.dbt_env("local"), echo=None
    )
    assert code == 0 and "does not match any enabled nodes" in output, output[-2000:]
    assert planted not in output


@pytest.mark.fresh_process
def test_a_test_marked_fresh_process_gets_the_child_process() -> None:
    assert dbt_runner.launch.__module__ == "taglake.privacy.dbt_runner"
    assert dbt_runner.capture.__module__ == "taglake.privacy.dbt_runner"


def test_every_other_test_gets_dbt_in_process(in_process_dbt: InProcessDbt) -> None:
    assert dbt_runner.launch == in_process_dbt.launch and dbt_runner.capture == in_process_dbt.capture
