"""Every node compiles for the AWS targets with no AWS account and no network, and parses in its engine's dialect."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from taglake.core.project import Project
from taglake.ops.run_window import window_env
from taglake.verify import offline_compile
from taglake.verify.offline_compile import (
    CHECKERS,
    CLOSED_ENDPOINT,
    CompiledNode,
    CompiledProject,
    ParseChecks,
    compile_project,
    incremental_models,
    offline_env,
    sqlfluff_failures,
    sqlglot_failures,
    verify_offline,
)
from taglake.verify.parse_cache import ParseCache
from taglake.verify.progress import Progress

AWS_TARGETS = ["athena", "redshift", "athena_system", "redshift_system"]
Compiled = Callable[[str], CompiledProject]


def _node(sql: str) -> CompiledNode:
    return CompiledNode("model.taglake.probe", "model", "probe", "models/probe.sql", "table", None, sql, (), ())


def _enabled_in_manifest(compiled: CompiledProject, kinds: tuple[str, ...]) -> set[str]:
    manifest = json.loads(compiled.manifest_path.read_text(encoding="utf-8"))
    return {
        uid
        for uid, n in manifest["nodes"].items()
        if n["resource_type"] in kinds and (n.get("config") or {}).get("enabled", True)
    }


def test_the_offline_environment_has_no_credentials_and_no_reachable_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_PROFILE", "prod")
    env = offline_env(Project.locate(), "athena")
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_PROFILE" not in env
    assert env["AWS_ENDPOINT_URL"] == CLOSED_ENDPOINT and env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert env["TAGLAKE_TARGET"] == "athena"


@pytest.mark.dbt
@pytest.mark.parametrize("target", AWS_TARGETS)
def test_every_node_compiles_offline(aws_compiled: Compiled, target: str) -> None:
    compiled = aws_compiled(target)
    expected = _enabled_in_manifest(compiled, ("model", "test", "snapshot", "analysis"))
    got = {n.unique_id for n in compiled.checked()}
    assert expected - got == set(), f"compiled without SQL: {sorted(expected - got)}"
    kinds = {n.resource_type for n in compiled.checked()}
    assert {"model", "test", "analysis"} <= kinds
    vault = {n.name for n in compiled.checked() if n.path.startswith("models/vault/")}
    assert bool(vault) == target.endswith("_system"), "the vault compiles on the system targets only"


@pytest.mark.dbt
@pytest.mark.parametrize("target", AWS_TARGETS)
def test_every_compiled_node_parses_in_its_dialect(aws_compiled: Compiled, tmp_path: Path, target: str) -> None:
    compiled = aws_compiled(target)
    nodes = compiled.checked()
    if target.endswith("_system"):
        # The system target compiles the same SQL plus the vault: parse what differs from the pipeline's target.
        base = {n.unique_id: n.sql for n in aws_compiled(target.removesuffix("_system")).checked()}
        nodes = [n for n in nodes if base.get(n.unique_id) != n.sql]
        assert any(n.path.startswith("models/vault/") for n in nodes)
    failures = sqlglot_failures(nodes, compiled.engine) + sqlfluff_failures(nodes, compiled.engine)
    if incremental_models(compiled) and not target.endswith("_system"):
        # An incremental model's other SQL, its incremental branch, from a second compile.
        again = compile_project(Project.locate(), target, artifacts_dir=tmp_path, incremental=True)
        increments = incremental_models(again)
        failures += sqlglot_failures(increments, again.engine) + sqlfluff_failures(increments, again.engine)
    assert not failures, f"{len({f.unique_id for f in failures})} nodes do not parse:\n" + "\n".join(map(str, failures))


# The incremental models whose windowed tests a daily run compiles: a single key, a composite key, a mart.
WINDOWED = ["stg_cards__transactions", "stg_ml__model_scores", "fct_app_events"]


@pytest.mark.dbt
@pytest.mark.parametrize("target", ["athena", "redshift"])
def test_a_daily_runs_windowed_tests_compile_and_parse_on_each_engine(tmp_path: Path, target: str) -> None:
    # What taglake run-daily passes (taglake.ops.run_window): each model's newest landing before the build.
    landings = {name: date(2026, 10, 31) for name in WINDOWED}
    compiled = compile_project(
        Project.locate(), target, artifacts_dir=tmp_path, select=" ".join(WINDOWED), extra_env=window_env(landings)
    )
    tests = [n for n in compiled.checked() if n.resource_type == "test"]
    rows = [n for n in tests if n.name.startswith(("column_values_", "relationships_"))]
    keys = [n for n in tests if n.name.startswith(("unique_", "dbt_utils_unique"))]
    assert rows and keys and len(keys) == len(WINDOWED), [n.name for n in tests]
    window = "landing_date >= cast('2026-10-28' as date)"  # the newest landing minus the 3-day lookback
    assert all(window in n.sql for n in rows + keys), [n.name for n in rows + keys if window not in n.sql]
    # a key test reads every row of each key a window's row holds: the window's distinct keys joined to the table
    assert all(") as landed on " in n.sql and "select distinct " in n.sql for n in keys), [n.name for n in keys]
    failures = sqlglot_failures(tests, compiled.engine) + sqlfluff_failures(tests, compiled.engine)
    assert not failures, "\n".join(map(str, failures))


@pytest.mark.parametrize(
    ("sql", "engine", "checkers"),
    [
        ("select a from t where (", "athena", {"sqlglot", "sqlfluff"}),
        ("selec 1", "redshift", {"sqlglot", "sqlfluff"}),
        ("select 1 from t qualify x = 1", "athena", {"sqlglot", "sqlfluff"}),  # Athena has no QUALIFY
        ("select x ~ 'a' from t", "athena", {"sqlglot"}),  # Redshift's regex operator
    ],
)
def test_the_parse_checks_reject_what_the_dialect_cannot_parse(sql: str, engine: str, checkers: set[str]) -> None:
    failures = sqlglot_failures([_node(sql)], engine) + sqlfluff_failures([_node(sql)], engine)
    assert {f.checker for f in failures} == checkers
    assert all(f.unique_id == "model.taglake.probe" for f in failures)


@pytest.mark.parametrize("engine", ["athena", "redshift"])
def test_the_parse_checks_accept_what_the_dialect_parses(engine: str) -> None:
    sql = "with a as (select 1 as x) select x, count(*) as n from a group by x"
    assert sqlglot_failures([_node(sql)], engine) == [] and sqlfluff_failures([_node(sql)], engine) == []


PROBE = """{{ config(materialized='incremental', unique_key='transaction_id') }}
select transaction_id, transaction_date from {{ ref('stg_cards__transactions') }}
{% if is_incremental() %}
where transaction_date > (select max(transaction_date) from {{ this }})
{% endif %}
"""


@pytest.mark.dbt
def test_an_incremental_model_compiles_offline_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # dbt's own is_incremental() needs a connection; offline it is decided by a var (macros/aws/offline_compile.sql).
    root = Project.locate().root
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns(
        ".venv", ".git", ".secrets", "target", "logs", "lake", "build", "bench", "tests_py", "*.duckdb"
    )
    shutil.copytree(root, copy, ignore=ignore)
    (copy / "models" / "marts" / "probe").mkdir()
    (copy / "models" / "marts" / "probe" / "fct_probe.sql").write_text(PROBE, encoding="utf-8")
    monkeypatch.setenv("TAGLAKE_PROJECT_DIR", str(copy))
    project = Project.locate()
    out = io.StringIO()
    results = verify_offline(project, ["athena"], artifacts_dir=tmp_path / "artifacts", progress=Progress(out))
    compiled, failures = results["athena"]
    assert failures == []
    lines = out.getvalue().splitlines()
    for step in ("compile athena", "compile athena (incremental models)", "parse athena"):
        assert any(line.startswith(f"verify: {step}: ") and line.endswith(" s") for line in lines), (step, lines)
    assert any(line.startswith("verify: parse athena: ") and "incremental models again" in line for line in lines)
    probe = compiled.nodes["model.taglake.fct_probe"]
    assert "where" not in probe.sql
    again = compile_project(project, "athena", artifacts_dir=tmp_path / "artifacts", incremental=True)
    assert '"awsdatacatalog"."taglake_marts"."fct_probe"' in again.nodes["model.taglake.fct_probe"].sql
    assert "fct_probe" in [n.name for n in incremental_models(again)]


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every checker call from now on, as (checker, sql), with this process's memory of past parses emptied."""
    monkeypatch.setattr(offline_compile, "_SEEN", {})
    calls: list[tuple[str, str]] = []
    for name, (check, dialects) in dict(CHECKERS).items():

        def counted(
            sql: str, engine: str, name: str = name, check: Callable[[str, str], list[str]] = check
        ) -> list[str]:
            calls.append((name, sql))
            return check(sql, engine)

        monkeypatch.setitem(CHECKERS, name, (counted, dialects))
    return calls


GOOD, BAD = "select 1 as x", "select a from t where ("


def test_a_cache_hit_parses_nothing_and_finds_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _counting(monkeypatch)
    with ParseChecks(ParseCache(tmp_path), workers=1) as checks:
        cold = checks.failures([_node(GOOD), _node(BAD)], "athena")
    assert sorted(calls) == sorted((c, s) for c in CHECKERS for s in (GOOD, BAD))
    assert {f.checker for f in cold} == {"sqlglot", "sqlfluff"} and checks.parsed == 4 and checks.hits == 0
    calls = _counting(monkeypatch)  # a new process: nothing in memory, the cache on disk
    with ParseChecks(ParseCache(tmp_path), workers=1) as checks:
        warm = checks.failures([_node(GOOD), _node(BAD)], "athena")
    assert calls == [] and warm == cold and checks.hits == 4 and checks.parsed == 0


def test_a_changed_text_or_dialect_misses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _counting(monkeypatch)
    with ParseChecks(ParseCache(tmp_path), workers=1) as checks:
        checks.failures([_node(GOOD)], "athena")
    calls = _counting(monkeypatch)
    with ParseChecks(ParseCache(tmp_path), workers=1) as checks:
        checks.failures([_node(GOOD + " "), _node(GOOD)], "athena")
        checks.failures([_node(GOOD)], "redshift")  # the same text in another dialect: parsed in that dialect
    assert sorted(calls) == sorted([(c, GOOD + " ") for c in CHECKERS] + [(c, GOOD) for c in CHECKERS])
    assert checks.hits == 2


def test_a_corrupt_cache_file_is_ignored_and_the_text_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _counting(monkeypatch)
    with ParseChecks(ParseCache(tmp_path), workers=1) as checks:
        cold = checks.failures([_node(BAD)], "athena")
    for stored in tmp_path.rglob("*.json"):
        stored.write_text("{trunc", encoding="utf-8")
    calls = _counting(monkeypatch)
    with ParseChecks(ParseCache(tmp_path), workers=1) as checks:
        assert checks.failures([_node(BAD)], "athena") == cold != []
    assert len(calls) == 2 and checks.hits == 0


def test_without_a_cache_every_text_is_parsed_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = _counting(monkeypatch)
    with ParseChecks(workers=1) as checks:
        checks.failures([_node(GOOD)], "redshift")
    assert len(calls) == 2 and not any(tmp_path.iterdir())


def test_the_pool_parses_as_one_process_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline_compile, "_SEEN", {})
    nodes = [_node(GOOD), _node(BAD), _node("select 1 from t qualify x = 1")]
    with ParseChecks(workers=2) as checks:
        pooled = checks.failures(nodes, "athena")
    monkeypatch.setattr(offline_compile, "_SEEN", {})
    with ParseChecks(workers=1) as checks:
        assert checks.failures(nodes, "athena") == pooled != []
