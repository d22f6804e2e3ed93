"""The full build as a plain DuckDB script: which logged statements it keeps, the tables the hooks write (left out of
the comparison), and a real run in its own process against a small build: the same tables, a changed table found,
a failing statement named by its node without its values."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from taglake.bench.dbt_log import LoggedStatement
from taglake.bench.plain_script import (
    PlainScriptError,
    hook_written_tables,
    measure_plain_script,
    writing_statements,
)


def _s(connection: str, sql: str) -> LoggedStatement:
    return LoggedStatement(connection, sql, 0.1)


def test_only_the_statements_that_write_the_nodes_tables_are_kept() -> None:
    kept = [
        _s("model.taglake.a", '\n  -- the model\n  create table "db"."s"."a" as (select 1)'),
        _s("model.taglake.b", 'create table "db"."s"."b" ("id" INTEGER);\n    insert into "db"."s"."b" select 1'),
        _s("model.taglake.c", '/* a comment */ create temporary table "c__dbt_tmp" as (select 1)'),
        _s("model.taglake.c", 'insert into "db"."s"."c" select * from "c__dbt_tmp"'),
        _s("model.taglake.d", 'alter table "db"."s"."d__dbt_tmp" rename to "d"'),
        _s("model.taglake.d", 'drop table if exists "db"."s"."d__dbt_backup" cascade'),
        _s("model.taglake.v", 'create or replace view "db"."s"."v" as (select 1)'),
        _s("snapshot.taglake.snap", 'create table "db"."snapshots"."snap" as (select 1)'),
        _s("seed.taglake.ref", """COPY "db"."r"."ref" FROM '/seeds/ref.csv' (FORMAT CSV)"""),
    ]
    left = [
        _s("model.taglake.a", 'select count(*) from (select * from "db"."s"."a") as sampled'),  # the guard
        _s("model.taglake.a", 'describe select * from "db"."s"."a"'),
        _s("model.taglake.a", 'comment on table "db"."s"."a" is $$created$$'),
        _s("model.taglake.a", "COMMIT"),
        _s("model.taglake.a", "select column_name, column_type from information_schema.columns"),
        _s("test.taglake.unique_a_id.abc", 'create table "db"."audit"."t" as (select 1)'),  # a test's, not a model's
        _s("master", 'insert into "db"."m"."history" values (1)'),
    ]
    assert writing_statements(kept + left) == kept


def test_the_tables_the_hooks_write_are_named_by_schema_and_table() -> None:
    statements = [
        _s("master", 'insert into "db"."Marts"."history" (a) values (1)'),
        _s("master", "delete from db.marts.runs where id = 1"),
        _s("master", "select 1"),
        _s("model.taglake.a", 'insert into "db"."s"."a" select 1'),  # a node's: not a hook's
    ]
    assert hook_written_tables(statements) == {("marts", "history"), ("marts", "runs")}


BUILD = [
    ("model.taglake.a", 'create table "taglake"."s1"."a" as (select range as id, \'x\' || range as v from range(500))'),
    ("model.taglake.a", 'select count(*) from (select * from "taglake"."s1"."a") as sampled'),
    ("model.taglake.b", 'create table "taglake"."s2"."b__dbt_tmp" as (select * from "taglake"."s1"."a" where id > 9)'),
    ("model.taglake.b", 'alter table "taglake"."s2"."b__dbt_tmp" rename to "b"'),
    ("model.taglake.h", 'create table "taglake"."s2"."history" (id integer)'),
    ("test.taglake.unique_b_id.abc", 'select count(*) from "taglake"."s2"."b"'),
    ("master", 'insert into "taglake"."s2"."history" values (1)'),
]


def _build(folder: Path, statements: list[tuple[str, str]]) -> tuple[Path, Path]:
    """A database built by `statements` and the dbt debug log that says so."""
    folder.mkdir(parents=True)
    db = folder / "taglake.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema s1; create schema s2")  # as dbt creates the schemas before the nodes
    lines = []
    for index, (connection, sql) in enumerate(statements):
        con.execute(sql)
        lines.append(f"\x1b[0m10:00:{index:02d}.000000 [debug] [Thread-1 (]: On {connection}: {sql}")
        lines.append(f"\x1b[0m10:00:{index:02d}.500000 [debug] [Thread-1 (]: SQL status: OK in 0.100 seconds")
    con.close()
    log = folder / "full_build.dbt.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return db, log


SETTINGS = {"preserve_insertion_order": "True", "memory_limit": "1GB", "threads": "1"}


def test_the_plain_script_writes_the_builds_tables_in_its_own_process(tmp_path: Path) -> None:
    db, log = _build(tmp_path / "build", BUILD)
    result = measure_plain_script(log, db, tmp_path / "plain", SETTINGS, env=dict(os.environ))
    assert result["statements"] == 4  # a's create, b's create and rename, h's create
    assert result["tables"] == {"same": ["s1.a", "s2.b"], "differ": [], "left_out": ["s2.history"]}
    assert result["wall_seconds"] > 0 and result["cpu_seconds"] > 0 and result["peak_rss_bytes"] > 0
    assert not list((tmp_path / "plain").glob("taglake.duckdb*")), "its database is deleted once compared"
    assert (tmp_path / "plain" / "plain_script.json").is_file()

    # a build whose table is not what its statements write: found
    con = duckdb.connect(str(db))
    con.execute('update "taglake"."s2"."b" set v = \'y\' where id = 10')
    con.close()
    changed = measure_plain_script(log, db, tmp_path / "plain2", SETTINGS, env=dict(os.environ))
    assert changed["tables"]["differ"] == ["s2.b"] and changed["tables"]["same"] == ["s1.a"]


def test_a_failing_statement_is_named_by_its_node_and_its_values_are_not_echoed(tmp_path: Path) -> None:
    db, log = _build(tmp_path / "build", BUILD[:1])
    log.write_text(
        log.read_text(encoding="utf-8")
        + "\x1b[0m10:01:00.000000 [debug] [Thread-1 (]: On model.taglake.bad: "
        + 'create table "taglake"."s1"."bad" as (select cast(\'A123456789\' as integer) as n)\n'
        + "\x1b[0m10:01:00.500000 [debug] [Thread-1 (]: SQL status: OK in 0.100 seconds\n",
        encoding="utf-8",
    )
    with pytest.raises(PlainScriptError) as failed:
        measure_plain_script(log, db, tmp_path / "plain", SETTINGS, env=dict(os.environ))
    message = str(failed.value)
    script = tmp_path / "plain" / "plain_script.json"
    assert message == (
        f"plain script: statement 2 of model.taglake.bad failed (ConversionException); its script: {script}"
    )
    assert "A123456789" not in (tmp_path / "plain" / "plain_script.out").read_text(encoding="utf-8")
