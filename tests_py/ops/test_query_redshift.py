"""`taglake query --target redshift`, live: a PostgreSQL server this module starts on 127.0.0.1
(tests_py/pg_server.py; Redshift speaks PostgreSQL's wire protocol) holds a small mart schema, a reference seed and a
staging table; the CLI connects with the settings profiles.yml reads from the TAGLAKE_REDSHIFT_* variables, runs the
query with the marts schema as its search path, aligns the Chinese values, and refuses everything else before it is
sent."""

from __future__ import annotations

from collections.abc import Iterator

import pg_server
import psycopg2
import pytest

from taglake import cli
from taglake.core.project import Project
from taglake.ops import query
from taglake.ops.query_redshift import redshift_settings

pytestmark = [pytest.mark.query, pytest.mark.replication]

SCHEMA = "tlq"
CANARY = "A123456789"
TAGS = [
    ("tok_0001", "VAL_HNW", "高資產客戶"),
    ("tok_0002", "VAL_HNW", "高資產客戶"),
    ("tok_0003", "LC_NEW", "新戶"),
    ("tok_0004", "CARD_TRAVEL_LOVER", "旅遊愛好者"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[pg_server.PgServer]:
    pg = pg_server.start()
    try:
        with (
            psycopg2.connect(
                host="127.0.0.1", port=pg.port, dbname="postgres", user=pg_server.USER, password=pg.password
            ) as con,
            con.cursor() as cur,
        ):
            for layer in ("marts", "reference", "staging"):
                cur.execute(f"create schema {SCHEMA}_{layer}")
            cur.execute(
                f"create table {SCHEMA}_marts.fct_customer_tags (customer_token text, tag_code text, tag_name_zh text)"
            )
            cur.executemany(f"insert into {SCHEMA}_marts.fct_customer_tags values (%s, %s, %s)", TAGS)
            cur.execute(f"create table {SCHEMA}_reference.tag_catalog (tag_code text, tag_name text)")
            cur.execute(f"insert into {SCHEMA}_reference.tag_catalog values ('VAL_HNW', '高資產客戶')")
            cur.execute(f"create table {SCHEMA}_staging.stg_crm__customers (national_id text)")
            cur.execute(f"insert into {SCHEMA}_staging.stg_crm__customers values ('{CANARY}')")
            # what an unqualified name would find first if the search path were not the marts schema
            cur.execute(f"create table public.stg_crm__customers as select * from {SCHEMA}_staging.stg_crm__customers")
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def redshift_env(server: pg_server.PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The redshift target's variables (profiles.yml) pointing at the local server."""
    for name, value in pg_server.redshift_target_env(server, SCHEMA).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TAGLAKE_SYSTEM_IDENTITY", raising=False)


def _cells(line: str) -> list[str]:
    return [c for c in line.split("  ") if c.strip()]


def test_an_unqualified_mart_query_runs_on_redshift_with_wide_values_aligned(
    redshift_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = "select tag_code, tag_name_zh, count(*) as customers from fct_customer_tags group by 1, 2 order by 3 desc, 1"
    assert cli.main(["query", "--target", "redshift", "--sql", sql]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [c.strip() for c in _cells(lines[0])] == ["tag_code", "tag_name_zh", "customers"]
    assert [[c.strip() for c in _cells(line)] for line in lines[2:]] == [
        ["VAL_HNW", "高資產客戶", "2"],
        ["CARD_TRAVEL_LOVER", "旅遊愛好者", "1"],
        ["LC_NEW", "新戶", "1"],
    ]
    # the customers column ends at the same terminal column on every line (新戶 is 4 columns wide, not 2)
    from taglake.core.text_tables import display_width

    assert len({display_width(line) for line in lines[1:]}) == 1


def test_ad_hoc_refs_and_vars_resolve_for_redshift(redshift_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    sql = (
        "select t.tag_code, c.tag_name from {{ ref('fct_customer_tags') }} as t "
        "join {{ ref('tag_catalog') }} as c on c.tag_code = t.tag_code where t.tag_code = '{{ var('tag') }}'"
    )
    resolved = query.resolve_sql(Project.locate(), "redshift", sql=sql, dbt_vars={"tag": "VAL_HNW"})
    assert f'"{SCHEMA}_marts"."fct_customer_tags"' in resolved and f'"{SCHEMA}_reference"."tag_catalog"' in resolved
    result = query.run_query(Project.locate(), "redshift", resolved)
    assert result.columns == ["tag_code", "tag_name"] and result.rows == [("VAL_HNW", "高資產客戶")] * 2
    assert cli.main(["query", "--target", "redshift", "--vars", '{"tag": "LC_NEW"}', "--sql", sql]) == 0
    assert capsys.readouterr().out.splitlines()[2:] == ["(no rows)"]  # LC_NEW has no catalog row here


REFUSED = {
    "an unqualified staging name": "select * from stg_crm__customers",
    "a qualified staging name": f"select * from {SCHEMA}_staging.stg_crm__customers",
    "another schema": "select * from public.stg_crm__customers",
    "an unqualified system table": "select * from pg_user",
    "a qualified system table": "select * from pg_catalog.pg_shadow",
    "select into": "select * into tlq_marts.copy from fct_customer_tags",
    "two statements": "select 1; select 2",
    "a write": "insert into fct_customer_tags values ('x', 'y', 'z')",
    "another database": "select * from otherdb.tlq_marts.fct_customer_tags",
    "the vault": "select * from tlq_vault.vault_customer_identities",
}


@pytest.mark.redteam
@pytest.mark.parametrize("case", list(REFUSED))
def test_redshift_sql_outside_the_marts_is_refused_before_it_is_sent(
    case: str, redshift_env: None, server: pg_server.PgServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["query", "--target", "redshift", "--sql", REFUSED[case]]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1, captured.err
    assert CANARY not in captured.err


@pytest.mark.redteam
def test_a_failing_redshift_query_names_its_class_and_sqlstate_never_a_value(
    redshift_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(["query", "--target", "redshift", "--sql", "select cast(tag_name_zh as int) from fct_customer_tags"])
        == 1
    )
    (line,) = capsys.readouterr().err.splitlines()
    assert "SQLSTATE 22P02" in line and "高資產" not in line and "新戶" not in line


def test_missing_redshift_settings_are_one_line_naming_every_variable(
    redshift_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TAGLAKE_REDSHIFT_HOST")
    monkeypatch.delenv("TAGLAKE_REDSHIFT_USER")
    assert cli.main(["query", "--target", "redshift", "--sql", "select 1"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "TAGLAKE_REDSHIFT_HOST" in line and "TAGLAKE_REDSHIFT_USER" in line


@pytest.mark.redteam
def test_tls_may_be_turned_off_only_for_a_server_on_this_machine(
    redshift_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAGLAKE_REDSHIFT_HOST", "cluster.example.eu-west-1.redshift.amazonaws.com")
    with pytest.raises(query.QueryRefused, match="TAGLAKE_REDSHIFT_SSLMODE"):
        redshift_settings(Project.locate(), "redshift")
    monkeypatch.setenv("TAGLAKE_REDSHIFT_SSLMODE", "verify-full")
    settings = redshift_settings(Project.locate(), "redshift")
    assert settings.sslmode == "verify-full" and settings.password not in repr(settings)
