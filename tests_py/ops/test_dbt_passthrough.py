"""`taglake dbt …` (and the dbt arguments `taglake build` passes on) outside the system targets: what would print
data or run arbitrary Jinja with the pipeline's access is refused in one line before dbt starts; the rest runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from project_copy import run_taglake, scratch_env

from taglake.ops.dbt_guard import DbtRefused, check_dbt_args, effective_target

PLANTED = "A123456789"

REFUSED = {
    "show a model": ["dbt", "show", "--select", "dim_customers"],
    "show inline": ["dbt", "show", "--inline", "select * from {{ source('crm', 'customers') }}"],
    "show inline-direct": ["dbt", "show", "--inline-direct", "select 1"],
    "run-operation run_query": ["dbt", "run-operation", "run_query", "--args", "{sql: 'select 1'}"],
    "run-operation of a project macro with args": [
        "dbt",
        "run-operation",
        "create_spectrum_schemas",
        "--args",
        "{x: 1}",
    ],
    "run-operation of any other macro": ["dbt", "run-operation", "privacy_guard"],
    "compile inline source": ["dbt", "compile", "--inline", "select * from {{ source('privacy', 'masking_keys') }}"],
    "compile inline=": ["dbt", "compile", "--inline=select '{{ env_var(\"TAGLAKE_KEY_FILE\") }}'"],
    "compile -i": ["dbt", "compile", "-i", "select 1"],
    "vars switching treatments": ["dbt", "build", "--vars", "{pii_treatments: {national_id: [keep]}}"],
    "vars switching the guard": ["dbt", "build", "--vars=privacy_guard: {sample_rows: 0}"],
    "vars with SQL in a value": ["dbt", "compile", "--vars", '{as_of: "2026-10-25\' as timestamp) or (true"}'],
    "vars with a mapping value": ["dbt", "build", "--vars", "{tag_code: {a: 1}}"],
    "vars that do not parse": ["dbt", "build", "--vars", "{tag_code: [unclosed"],
    "state and defer": ["dbt", "build", "--state", "elsewhere", "--defer"],
    "clone": ["dbt", "clone", "--state", "elsewhere"],
    "retry": ["dbt", "retry"],
    "docs served to the network": ["dbt", "docs", "serve", "--host", "0.0.0.0"],
    "another profiles dir": ["dbt", "debug", "--profiles-dir", "/tmp"],
    "build passing privacy vars on": ["build", "--", "--vars", "{pii_treatments: {}}"],
    "build passing show on": ["build", "--", "--inline", "select 1"],
    "run-daily passing state on": ["run-daily", "--no-scan", "--", "--defer", "--state", "x"],
}


@pytest.mark.redteam
@pytest.mark.parametrize("way_in", list(REFUSED))
def test_each_passthrough_way_in_is_refused_before_dbt_runs(way_in: str, tmp_path: Path) -> None:
    args = [a.replace("{PLANTED}", PLANTED) for a in REFUSED[way_in]]
    result = run_taglake(args, scratch_env(tmp_path))
    assert result.returncode == 2, (way_in, result.stdout[-2000:], result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert not result.stdout
    assert not (tmp_path / "artifacts").exists(), "dbt ran"


@pytest.mark.redteam
def test_the_target_is_read_as_dbt_reads_it_so_a_system_name_cannot_slip_past() -> None:
    assert effective_target(["show", "--target", "local"], {}) == "local"
    assert effective_target(["show", "-t", "local", "--target=local_system"], {}) == "local_system"
    assert effective_target(["show", "-tlocal_system"], {}) == "local_system"
    assert effective_target(["show"], {"DBT_TARGET": "athena", "TAGLAKE_TARGET": "local_system"}) == "athena"
    assert effective_target(["show"], {"TAGLAKE_TARGET": "athena"}) == "athena"
    assert effective_target([], {}, default="redshift") == "redshift"
    assert effective_target([], {}) == "local"


@pytest.mark.parametrize(
    "args",
    [
        ["build"],
        ["build", "--select", "marts", "--full-refresh"],
        ["compile", "--select", "tag_overlap", "--vars", "{tag_a: LC_NEW, tag_b: VAL_HNW}"],
        ["compile", "--select", "customer_attributes_as_of", "--vars", "{as_of: '2026-10-01 00:00:00'}"],
        ["build", "--vars", "{late_arrival_lookback_days: 5, tag_high_risk_grades: [R4, R5]}"],
        ["source", "freshness"],
        ["ls", "--resource-type", "model"],
        ["parse"],
        ["deps"],
        ["debug"],
        ["docs", "generate"],
        ["docs", "serve", "--host", "127.0.0.1", "--port", "8081"],
        ["run-operation", "create_spectrum_schemas", "--target", "redshift"],
        ["test", "--select", "staging"],
    ],
)
def test_ordinary_dbt_commands_pass(args: list[str]) -> None:
    check_dbt_args(args, effective_target(args, {}), {})


@pytest.mark.parametrize("target", ["local_system", "athena_system", "redshift_system"])
def test_nothing_is_refused_on_a_system_target(target: str) -> None:
    for args in REFUSED.values():
        check_dbt_args(args, target, {})
    with pytest.raises(DbtRefused):
        check_dbt_args(["show"], "local", {})


@pytest.mark.dbt
def test_an_allowed_dbt_command_still_runs(tmp_path: Path) -> None:
    env = scratch_env(tmp_path)
    assert run_taglake(["keys", "init"], env).returncode == 0
    result = run_taglake(["dbt", "ls", "--select", "dim_customers", "--output", "name"], env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    assert "dim_customers" in result.stdout
