"""The compiled analyses kept for `taglake query` (taglake.ops.analysis_cache): a repeat call runs no dbt, every
change the compiled SQL can depend on compiles again, an entry that is not sound is never trusted, the SQL is the
uncached path's and still goes through every check, and the system targets are never cached."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from taglake.core.project import Project
from taglake.ops import analysis_cache, query
from taglake.privacy import dbt_runner

pytestmark = pytest.mark.query

CHECKOUT = Path(__file__).resolve().parents[2]


class FakeCompile:
    """Stands in for the one dbt call: compiles each analysis to a SELECT naming the vars and its own text."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, project: Project, target: str, dbt_vars: Mapping[str, Any]) -> dict[str, str]:
        self.calls += 1
        macro = (project.root / "macros" / "m.sql").read_text(encoding="utf-8")
        return {
            path.stem: f"select {json.dumps(dict(dbt_vars), sort_keys=True)!r} as vars, {len(macro)} as m -- "
            + path.read_text(encoding="utf-8").strip()
            for path in sorted((project.root / "analyses").glob("*.sql"))
        }


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project of two analyses and a macro, with the checkout's dbt_project.yml and profiles.yml."""
    root = tmp_path / "project"
    (root / "analyses").mkdir(parents=True)
    (root / "macros").mkdir()
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy2(CHECKOUT / name, root / name)
    (root / "analyses" / "first.sql").write_text("select 1 from {{ ref('dim_customers') }}\n", encoding="utf-8")
    (root / "analyses" / "second.sql").write_text("select 2 from {{ ref('fct_customer_tags') }}\n", encoding="utf-8")
    (root / "macros" / "m.sql").write_text("{% macro m() %}1{% endmacro %}\n", encoding="utf-8")
    monkeypatch.delenv("TAGLAKE_TARGET", raising=False)
    return Project(
        root=root,
        lake_dir=tmp_path / "lake",
        duckdb_path=tmp_path / "build" / "taglake.duckdb",
        target_path=root / "target",
        log_path=root / "logs",
        key_file=tmp_path / "secrets" / "masking_keys.csv",
    )


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCompile:
    """resolve_sql's dbt call replaced by the fake; compiling one analysis alone is an error unless a test says."""
    compile_all = FakeCompile()
    monkeypatch.setattr(analysis_cache, "compile_all_with_dbt", compile_all)

    def no_single_compile(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("compiled one analysis alone")

    monkeypatch.setattr(query, "_compile_with_dbt", no_single_compile)
    return compile_all


def _resolve(project: Project, name: str, dbt_vars: Mapping[str, Any] | None = None, target: str = "local") -> str:
    return query.resolve_sql(project, target, analysis=name, dbt_vars=dbt_vars)


def _entries(project: Project) -> list[Path]:
    return sorted(analysis_cache.cache_dir(project).glob("analyses-*.json"))


def test_a_repeat_call_and_another_analysis_with_the_same_vars_compile_nothing(
    small: Project, fake: FakeCompile
) -> None:
    first = _resolve(small, "first")
    assert fake.calls == 1 and "select 1 from" in first
    assert _resolve(small, "first") == first
    assert "select 2 from" in _resolve(small, "second")
    assert fake.calls == 1
    assert len(_entries(small)) == 1


def _change_vars(project: Project) -> dict[str, Any]:
    return {"tag_a": "VAL_MASS_AFFLUENT"}


def _change_analysis(project: Project) -> dict[str, Any]:
    path = project.root / "analyses" / "first.sql"
    path.write_text(path.read_text(encoding="utf-8").replace("select 1", "select 11"), encoding="utf-8")
    return {}


def _change_other_analysis(project: Project) -> dict[str, Any]:
    (project.root / "analyses" / "second.sql").write_text("select 22\n", encoding="utf-8")
    return {}


def _change_macro(project: Project) -> dict[str, Any]:
    (project.root / "macros" / "m.sql").write_text("{% macro m() %}22{% endmacro %}\n", encoding="utf-8")
    return {}


def _add_macro(project: Project) -> dict[str, Any]:
    (project.root / "macros" / "engines").mkdir()
    (project.root / "macros" / "engines" / "n.sql").write_text("{% macro n() %}2{% endmacro %}\n", encoding="utf-8")
    return {}


def _change_model_config(project: Project) -> dict[str, Any]:
    (project.root / "models").mkdir()
    (project.root / "models" / "dim_customers.sql").write_text("{{ config(alias='x') }} select 1\n", "utf-8")
    return {}


def _change_project_yml(project: Project) -> dict[str, Any]:
    with (project.root / "dbt_project.yml").open("a", encoding="utf-8") as fh:
        fh.write("\n# changed\n")
    return {}


@pytest.mark.parametrize(
    "change",
    [
        _change_vars,
        _change_analysis,
        _change_other_analysis,
        _change_macro,
        _add_macro,
        _change_model_config,
        _change_project_yml,
    ],
)
def test_every_change_the_compiled_sql_depends_on_compiles_again(
    small: Project, fake: FakeCompile, change: Any
) -> None:
    before = _resolve(small, "first")
    dbt_vars = change(small)
    after = _resolve(small, "first", dbt_vars)
    assert fake.calls == 2
    if change in (_change_vars, _change_analysis):
        assert after != before
    assert _resolve(small, "first", dbt_vars) == after and fake.calls == 2


def test_another_database_file_compiles_again(small: Project, fake: FakeCompile) -> None:
    # TAGLAKE_DUCKDB_PATH (profiles.yml's env_var) names the catalog the compiled SQL reads.
    _resolve(small, "first")
    _resolve(dataclasses.replace(small, duckdb_path=small.duckdb_path.with_name("other.duckdb")), "first")
    assert fake.calls == 2


def test_a_changed_var_value_is_another_entry_and_the_first_stays(small: Project, fake: FakeCompile) -> None:
    a = _resolve(small, "first", {"tag_a": "LC_NEW"})
    b = _resolve(small, "first", {"tag_a": "VAL_MASS_AFFLUENT"})
    assert a != b and fake.calls == 2
    assert _resolve(small, "first", {"tag_a": "LC_NEW"}) == a and fake.calls == 2


def test_the_athena_schema_variable_is_part_of_the_key(
    small: Project, fake: FakeCompile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGLAKE_ATHENA_SCHEMA", "taglake_dev")
    _resolve(small, "first", target="athena")
    _resolve(small, "first", target="athena")
    assert fake.calls == 1
    monkeypatch.setenv("TAGLAKE_ATHENA_SCHEMA", "taglake_prod")
    _resolve(small, "first", target="athena")
    assert fake.calls == 2
    _resolve(small, "first", target="local")
    assert fake.calls == 3


def test_a_password_or_the_terminal_does_not_change_the_key(
    small: Project, fake: FakeCompile, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = analysis_cache.cache_key(small, "local", {})
    monkeypatch.setenv("TAGLAKE_REDSHIFT_PASSWORD", "not-in-any-key")
    monkeypatch.setattr(
        "taglake.core.project.colour_env", lambda: {"DBT_USE_COLORS": "true", "DBT_USE_COLORS_FILE": "false"}
    )
    assert analysis_cache.cache_key(small, "local", {}) == key


def _tamper_sql(entry: Path) -> None:
    doc = json.loads(entry.read_text(encoding="utf-8"))
    doc["analyses"]["first"] = "select 'tampered'"
    entry.write_text(json.dumps(doc), encoding="utf-8")


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda entry: entry.write_text("{not json", encoding="utf-8"),
        lambda entry: entry.write_bytes(b"\xff\xfe\x00garbage"),
        lambda entry: entry.write_text(entry.read_text(encoding="utf-8")[:40], encoding="utf-8"),
        lambda entry: entry.write_text("[]", encoding="utf-8"),
        lambda entry: entry.write_text(json.dumps({"format": 1, "key": "x", "analyses": {}}), encoding="utf-8"),
        _tamper_sql,
    ],
    ids=["not-json", "not-utf8", "truncated", "not-a-mapping", "other-key", "sql-without-its-digest"],
)
def test_an_unsound_entry_is_never_trusted_and_is_rebuilt(small: Project, fake: FakeCompile, corrupt: Any) -> None:
    good = _resolve(small, "first")
    (entry,) = _entries(small)
    corrupt(entry)
    assert _resolve(small, "first") == good
    assert fake.calls == 2
    assert analysis_cache.read_entry(small, entry.name.removeprefix("analyses-").removesuffix(".json")) is not None


def test_when_compiling_them_all_fails_the_one_asked_for_is_compiled_alone_and_kept(
    small: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    single: list[str] = []

    def failing(*args: Any) -> dict[str, str]:
        raise dbt_runner.DbtError("another analysis needs a var")

    def compile_one(project: Project, text: str, target: str, dbt_vars: Any = None) -> str:
        single.append(text)
        return "select 'alone'"

    monkeypatch.setattr(analysis_cache, "compile_all_with_dbt", failing)
    monkeypatch.setattr(query, "_compile_with_dbt", compile_one)
    assert _resolve(small, "first") == "select 'alone'"
    assert _resolve(small, "first") == "select 'alone'"
    assert len(single) == 1


def test_a_sound_entry_naming_the_vault_is_still_refused(small: Project, fake: FakeCompile) -> None:
    _resolve(small, "first")
    key = analysis_cache.cache_key(small, "local", {})
    analysis_cache.write_entry(small, key, {"first": "select * from taglake_vault.vault_national_id"})
    with pytest.raises(query.QueryRefused, match="vault"):
        _resolve(small, "first")


@pytest.mark.redteam
def test_a_sound_entry_that_is_no_select_is_refused_before_it_runs(small: Project, fake: FakeCompile) -> None:
    _resolve(small, "first")
    key = analysis_cache.cache_key(small, "local", {})
    analysis_cache.write_entry(small, key, {"first": "copy (select 1) to '/tmp/x.csv'"})
    sql = _resolve(small, "first")
    with pytest.raises(query.QueryRefused):
        query.run_query(small, "local", sql)


def test_the_system_targets_compile_every_call_and_keep_nothing(
    small: Project, fake: FakeCompile, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(query, "_compile_with_dbt", lambda project, text, target, *a: calls.append(target) or text)
    _resolve(small, "first", target="local_system")
    _resolve(small, "first", target="local_system")
    assert calls == ["local_system", "local_system"] and fake.calls == 0
    assert not analysis_cache.cache_dir(small).exists()


def test_an_analysis_naming_the_vault_is_refused_before_any_compile(small: Project, fake: FakeCompile) -> None:
    (small.root / "analyses" / "sneaky.sql").write_text("select * from {{ ref('vault_national_id') }}\n", "utf-8")
    with pytest.raises(query.QueryRefused, match="vault"):
        _resolve(small, "sneaky")
    assert fake.calls == 0


def test_old_entries_beyond_the_limit_are_removed(small: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis_cache, "MAX_ENTRIES", 2)
    for n in range(4):
        analysis_cache.write_entry(small, f"{n:064x}", {"first": f"select {n}"})
    assert len(_entries(small)) == 2


# ---- with dbt, on the session build --------------------------------------------------------------------------


@pytest.fixture
def as_built(as_built: Project) -> Project:
    """The shared fixture (tests_py/ops/conftest.py), with the session build's query cache emptied."""
    shutil.rmtree(analysis_cache.cache_dir(as_built), ignore_errors=True)
    return as_built


@pytest.mark.dbt
def test_dbt_compiles_the_analyses_once_and_the_result_is_the_uncached_paths(
    as_built: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    capture = dbt_runner.capture

    def counted(args: Any, **kwargs: Any) -> Any:
        calls.append(list(args))
        return capture(args, **kwargs)

    monkeypatch.setattr(dbt_runner, "capture", counted)
    dbt_vars = {"tag_a": "VAL_MASS_AFFLUENT"}
    overlap = _resolve(as_built, "tag_overlap", dbt_vars)
    assert len(calls) == 1 and "resource_type:analysis" in calls[0]
    assert _resolve(as_built, "tag_overlap", dbt_vars) == overlap
    drilldown = _resolve(as_built, "tag_drilldown_by_city_and_age", dbt_vars)
    assert len(calls) == 1
    # The uncached path: the analysis alone through dbt compile --inline.
    for name, cached in (("tag_overlap", overlap), ("tag_drilldown_by_city_and_age", drilldown)):
        uncached = query.resolve_sql(
            as_built, "local", analysis=name, dbt_vars=dbt_vars, compile_sql=query._compile_with_dbt
        )
        assert cached == uncached
        assert query.run_query(as_built, "local", cached) == query.run_query(as_built, "local", uncached)
    assert "'VAL_MASS_AFFLUENT'" in overlap
    assert len(calls) == 3
