"""Translating Athena and Redshift SQL to DuckDB keeps its meaning where sqlglot alone would not."""

from __future__ import annotations

import duckdb
import pytest

from taglake.verify.transpile import relation_key, to_duckdb


def _one(sql: str, engine: str) -> object:
    return duckdb.sql(to_duckdb(sql, engine)).fetchone()[0]


def test_redshift_json_path_keeps_every_key() -> None:
    line = """'{"device": {"os": "ios", "app_version": "5.1"}}'"""
    assert _one(f"select json_extract_path_text({line}, 'device', 'os', true)", "redshift") == "ios"
    assert _one(f"select json_extract_path_text({line}, 'device', 'missing', true)", "redshift") is None


def test_redshift_regexp_substr_e_returns_the_first_group() -> None:
    assert _one("select regexp_substr('台北市大安區', '^(.{2}[市縣])', 1, 1, 'e')", "redshift") == "台北市"
    assert _one("select regexp_substr('abc123', '[a-z]+([0-9])', 1, 1, 'e')", "redshift") == "1"


def test_redshift_regexp_substr_at_another_position_is_refused() -> None:
    with pytest.raises(ValueError, match="position"):
        to_duckdb("select regexp_substr(x, 'a(b)', 2, 1, 'e') from t", "redshift")


def test_redshift_is_valid_json_is_json_valid() -> None:
    assert _one("""select is_valid_json('{"a": 1}')""", "redshift") is True
    assert _one("""select is_valid_json('{"a": ')""", "redshift") is False


@pytest.mark.parametrize("engine", ["athena", "redshift"])
def test_regexp_replace_replaces_every_match(engine: str) -> None:
    assert _one("select regexp_replace('0912-345-678', '[^0-9]', '')", engine) == "0912345678"


@pytest.mark.parametrize(
    ("engine", "relation"),
    [("athena", '"awsdatacatalog"."taglake_staging"."stg_x"'), ("redshift", '"dw"."taglake_staging"."stg_x"')],
)
def test_relations_are_renamed_and_ctes_left_alone(engine: str, relation: str) -> None:
    sql = f"with stg_x as (select 2 as v) select s.v from {relation} as s cross join stg_x"
    out = to_duckdb(sql, engine, {relation_key(relation, engine): "local_x"})
    con = duckdb.connect()
    con.execute("create table local_x as select 1 as v")
    assert con.sql(out).fetchall() == [(1,)]
    assert "taglake_staging" not in out


def test_athena_datediff_in_days_stays_a_number_of_days() -> None:
    # dbt-athena's datediff(day): to_milliseconds(date - date) / 86400000, an interval in Trino.
    sql = (
        "select ((to_milliseconds((cast(cast(date '2026-10-31' as timestamp) as date)"
        " - cast(cast(date '2026-10-01' as timestamp) as date)))) / 86400000)"
    )
    assert _one(sql, "athena") == 30
    assert _one("select to_milliseconds(interval '2' second)", "athena") == 2000
