"""The map from target to engine, and the DuckDB files, come from profiles.yml alone (taglake.core.targets)."""

import re
from pathlib import Path

import pytest
import yaml

from taglake.core import targets
from taglake.core.checkout import find_project_dir
from taglake.core.project import Project

ROOT = find_project_dir()


def _profile_outputs() -> dict:
    return yaml.safe_load((ROOT / "profiles.yml").read_text(encoding="utf-8"))["taglake"]["outputs"]


def test_every_profile_output_is_a_target_with_its_type_as_engine() -> None:
    outputs = _profile_outputs()
    assert {name: t.engine for name, t in targets.targets(ROOT).items()} == {n: o["type"] for n, o in outputs.items()}
    assert targets.engine_of("local", ROOT) == "duckdb"
    assert targets.engine_of("athena_system", ROOT) == "athena"
    assert targets.engine_of("redshift", ROOT) == "redshift"


def test_aws_targets_are_the_athena_and_redshift_outputs() -> None:
    assert targets.aws_targets(ROOT) == {
        "athena": "athena",
        "athena_system": "athena",
        "redshift": "redshift",
        "redshift_system": "redshift",
    }


def test_an_undeclared_target_is_unknown_and_not_local(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAGLAKE_TARGET", raising=False)
    with pytest.raises(targets.UnknownTarget, match=r"profiles\.yml declares"):
        targets.engine_of("local_typo", ROOT)
    assert not targets.is_local("localhost", ROOT)  # a name that merely starts with "local" is not a DuckDB target
    assert targets.is_local(None, ROOT) and targets.is_local("local_system", ROOT)
    monkeypatch.setenv("TAGLAKE_TARGET", "athena")
    assert not targets.is_local(None, ROOT)


def test_the_duckdb_files_are_the_defaults_profiles_yml_names(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TAGLAKE_DUCKDB_PATH", "TAGLAKE_SYSTEM_DUCKDB_PATH"):
        monkeypatch.delenv(name, raising=False)
    outputs = _profile_outputs()
    for name in ("local", "local_system"):
        default = re.search(r"'(build/[^']+\.duckdb)'", outputs[name]["path"])[1]
        assert targets.duckdb_file(name, ROOT) == (ROOT / default).resolve()
    assert Project.locate().duckdb_path == (ROOT / "build" / "taglake.duckdb").resolve()
    monkeypatch.setenv("TAGLAKE_SYSTEM_DUCKDB_PATH", "elsewhere/sys.duckdb")
    assert targets.duckdb_file("local_system", ROOT) == (ROOT / "elsewhere" / "sys.duckdb").resolve()


def test_the_memory_limit_is_the_one_profiles_yml_gives_the_local_build(monkeypatch: pytest.MonkeyPatch) -> None:
    # what a process that opens the build itself (the Athena estimate) limits DuckDB to, as dbt's build does
    monkeypatch.delenv("TAGLAKE_DUCKDB_MEMORY_LIMIT", raising=False)
    outputs = _profile_outputs()
    for name in ("local", "local_system"):
        default = re.search(r"'(\d+[KMGT]B)'", outputs[name]["settings"]["memory_limit"])[1]
        assert targets.duckdb_memory_limit(name, ROOT) == default
    assert targets.duckdb_memory_limit("athena", ROOT) is None
    monkeypatch.setenv("TAGLAKE_DUCKDB_MEMORY_LIMIT", "6GB")
    assert targets.duckdb_memory_limit("local", ROOT) == "6GB"


def test_duckdb_settings_are_profiles_yml_s_literals_and_variables_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a process that writes the build's tables without dbt (the plain script of taglake bench build) opens
    # its database with
    monkeypatch.delenv("TAGLAKE_DUCKDB_MEMORY_LIMIT", raising=False)
    local = _profile_outputs()["local"]["settings"]
    got = targets.duckdb_settings("local", ROOT)
    assert set(got) == set(local)
    for name, value in local.items():
        if "{{" not in str(value):
            assert got[name] == str(value)
    assert got["memory_limit"] == targets.duckdb_memory_limit("local", ROOT)
    assert targets.duckdb_settings("athena", ROOT) == {}
    (tmp_path / "profiles.yml").write_text(
        "taglake:\n  outputs:\n    local:\n      type: duckdb\n"
        "      path: \"{{ env_var('TAGLAKE_DUCKDB_PATH', 'x.duckdb') }}\"\n"
        "      settings: {threads: \"{{ env_var('THREADS') }}\"}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="setting 'threads' must be a literal or"):
        targets.duckdb_settings("local", tmp_path)


def test_no_module_guesses_the_engine_from_the_target_name() -> None:
    guesses = re.compile(r"startswith\(\"(local|athena|redshift)\"\)|\"build/taglake(_system)?\.duckdb\"")
    for path in Path(ROOT / "taglake").rglob("*.py"):
        assert not guesses.search(path.read_text(encoding="utf-8")), path


def test_each_targets_required_settings_are_the_env_vars_its_output_reads_without_a_default() -> None:
    declared = targets.targets()
    assert declared["local"].required_env == ()  # its path has a default
    athena = declared["athena"]
    assert "TAGLAKE_ATHENA_WORK_GROUP" in athena.required_env and "TAGLAKE_AWS_REGION" in athena.required_env
    assert athena.missing_env({}) == list(athena.required_env)
    assert athena.missing_env(dict.fromkeys(athena.required_env, "x")) == []


def test_outside_any_project_the_installed_checkout_is_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`taglake generate` run from another folder (the package is installed editable from the checkout)."""
    monkeypatch.delenv("TAGLAKE_PROJECT_DIR", raising=False)
    assert find_project_dir(tmp_path) == ROOT
    assert (ROOT / "dbt_project.yml").is_file()
