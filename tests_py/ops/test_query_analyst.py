"""`taglake query` for analysts: `--vars` reach the analysis' and the ad hoc SQL's var(), bad `--vars` are one line
that never echoes the value, and an unqualified name is a mart locally as on Athena while every other layer stays
out of reach."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from taglake import cli
from taglake.core.project import Project
from taglake.ops import query

pytestmark = pytest.mark.query


def _count(project: Project, sql: str) -> int:
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        return int(con.execute(sql).fetchone()[0])


# ---- --vars ----------------------------------------------------------------------------------------------------


@pytest.mark.dbt
def test_vars_reach_an_analysis_compiled_by_dbt(as_built: Project, tmp_path: Path) -> None:
    analysis = "tag_drilldown_by_city_and_age"
    sql = query.resolve_sql(as_built, "local", analysis=analysis, dbt_vars={"tag_code": "LC_NEW"})
    assert "where tag_code = 'LC_NEW'" in sql and "where tag_code = 'VAL_MASS_AFFLUENT'" not in sql
    expected = _count(
        as_built,
        "select sum(tagged_customer_count) from taglake_marts.agg_tag_population_daily where tag_code = 'LC_NEW' "
        "and as_of_date = (select max(as_of_date) from taglake_marts.agg_tag_population_daily "
        "where tag_code = 'LC_NEW')",
    )
    assert expected > 0
    out = tmp_path / "lc_new.csv"
    assert cli.main(["query", "tag_drilldown_by_city_and_age", "--vars", "{tag_code: LC_NEW}", "--csv", str(out)]) == 0
    rows = out.read_text(encoding="utf-8").splitlines()[1:]
    assert rows and sum(int(line.split(",")[2]) for line in rows) == expected


def test_vars_reach_ad_hoc_sql_and_the_projects_plain_vars_and_defaults_too() -> None:
    project = Project.locate()
    sql = (
        "select '{{ var(\"as_of_date\") }}' as d, {{ var('tag_hnw_min_aum_twd') }} as hnw, "
        "'{{ var('segment', 'mass') }}' as s, {{ var('n', 7) }} as n from {{ ref('dim_customers') }}"
    )
    resolved = query.resolve_sql(project, "local", sql=sql, dbt_vars={"as_of_date": "2026-11-30", "n": 3})
    assert resolved == (
        "select '2026-11-30' as d, 3000000 as hnw, 'mass' as s, 3 as n from \"taglake_marts\".\"dim_customers\""
    )


@pytest.mark.redteam
@pytest.mark.parametrize(
    ("given", "why"),
    [
        ('{"as_of_date": "A123456789', "does not parse"),  # bad YAML holding an ID-shaped value
        ("[A123456789, 0912345678]", "must be a YAML mapping"),
        ("A123456789", "must be a YAML mapping"),
        ('{"masking_key_file": "A123456789"}', "privacy setting"),
        ('{"vault": "A123456789"}', "privacy setting"),
        ('{"d": "A123456789\' or 1=1 --"}', "plain codes"),
        ('{"d": "{{ env_var(\'TAGLAKE_KEY_FILE\') }}"}', "plain codes"),
    ],
)
def test_bad_vars_are_one_line_naming_vars_and_never_the_value(
    given: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["query", "--vars", given, "--sql", "select 1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("taglake query: --vars") and why in line, line
    assert "A123456789" not in line and "0912345678" not in line and "env_var" not in line


@pytest.mark.redteam
def test_ad_hoc_var_without_a_value_names_the_var_and_other_jinja_stays_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["query", "--sql", "select {{ var('as_of_date') }}"]) == 2
    assert "var('as_of_date')" in capsys.readouterr().err
    for sql in (
        "select '{{ var(\"x\", \"a' or '1\") }}'",  # a default that is no plain value
        "select {{ var('x') ~ env_var('TAGLAKE_KEY_FILE') }}",
        "select {{ var(env_var('TAGLAKE_KEY_FILE')) }}",
    ):
        assert cli.main(["query", "--vars", "{x: 1}", "--sql", sql]) == 2, sql
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "TAGLAKE_KEY_FILE" not in err, err


# ---- unqualified names -------------------------------------------------------------------------------------------


@pytest.mark.dbt
def test_an_unqualified_mart_name_resolves_locally_as_on_athena(
    as_built: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = _count(as_built, "select count(*) from taglake_marts.fct_customer_tags")
    assert cli.main(["query", "--sql", "select count(*) as n from fct_customer_tags"]) == 0
    assert capsys.readouterr().out.splitlines()[2].strip() == f"{expected:,}"
    # the same name as Athena's default database reads it: qualified, or by ref, it is the same relation
    assert cli.main(["query", "--sql", "select count(*) as n from taglake_marts.fct_customer_tags"]) == 0
    assert capsys.readouterr().out.splitlines()[2].strip() == f"{expected:,}"


def test_every_engine_resolves_unqualified_names_in_its_marts_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAGLAKE_ATHENA_SCHEMA", "bank")
    monkeypatch.setenv("TAGLAKE_REDSHIFT_SCHEMA", "bank_rs")
    assert query.default_schema("local") == "taglake_marts"
    assert query.default_schema("athena") == query.athena_settings("athena").database == "bank_marts"
    assert query.default_schema("redshift") == "bank_rs_marts"


UNREACHABLE_UNQUALIFIED = {
    "a staging model": "select count(*) from stg_crm__customers",
    "a staging base model": "select count(*) from base_cards__transactions",
    "an intermediate model": "select count(*) from int_app_activity_summarized",
    "the key state": "select count(*) from key_state",
    "a stored test failure": "select count(*) from assert_every_daily_feed_landed_rows_every_day",
    "a vault model": "select count(*) from vault_customer_identities",
    "a reference seed (qualify it, as on Athena)": "select count(*) from tag_catalog",
    "a name built at run time": "select * from query_table('stg_crm__customers')",
    "a schema switch first": "use taglake_staging",
    "a search path": "set search_path = 'taglake_staging'",
}


@pytest.mark.dbt
@pytest.mark.redteam
@pytest.mark.parametrize("case", list(UNREACHABLE_UNQUALIFIED))
def test_an_unqualified_name_outside_the_marts_is_not_reachable(
    case: str, as_built: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["query", "--sql", UNREACHABLE_UNQUALIFIED[case]]) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and captured.err.startswith("taglake query: "), captured.err
