"""taglake replicate, live: the small lake's build (DuckDB) replicated into a PostgreSQL server this module starts
on 127.0.0.1 (tests_py/pg_server.py), through the same SQLAlchemy code that writes to RDS Oracle."""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pg_server
import pytest
import sqlalchemy as sa
from moto import mock_aws

from taglake import cli
from taglake.core.project import Project
from taglake.privacy.scan.scanner import scan
from taglake.replicate.replica import ReconciliationError, replicate
from taglake.replicate.source import open_source
from taglake.replicate.spec import WATERMARK_TABLE, TableSpec, load_specs
from taglake.replicate.types import normalise, sa_type

pytestmark = [pytest.mark.replication, pytest.mark.dbt]

_PG_TYPE = {"varchar": "text", "double": "double precision"}  # a source table made by hand (the Athena stand-in)


@pytest.fixture(scope="module")
def postgres() -> Iterator[pg_server.PgServer]:
    server = pg_server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def engine(postgres: pg_server.PgServer) -> Iterator[sa.Engine]:
    eng = sa.create_engine(postgres.url())
    yield eng
    eng.dispose()


@pytest.fixture
def schema(engine: sa.Engine) -> Iterator[str]:
    """A fresh replica schema for one test, dropped after it."""
    name = f"replica_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"create schema {name}"))
    yield name
    with engine.begin() as conn:
        conn.execute(sa.text(f"drop schema {name} cascade"))


@pytest.fixture(scope="module")
def specs(built_project: Project) -> list[TableSpec]:
    return load_specs(built_project.target_path / "manifest.json", built_project.root)


@pytest.fixture
def source_copy(built_project: Project, tmp_path: Path) -> Path:
    """A writable copy of the build, for tests that change the marts between runs."""
    copy = tmp_path / "source.duckdb"
    shutil.copy2(built_project.duckdb_path, copy)
    return copy


def _run(engine: sa.Engine, db: Path, specs: list[TableSpec], schema: str) -> dict[str, Any]:
    with open_source(duckdb_path=db) as source:
        return {r.table: r for r in replicate(engine, source, specs, schema=schema)}


def _source_rows(db: Path, spec: TableSpec) -> set[tuple[Any, ...]]:
    cols = ", ".join(f'"{c}"' for c in spec.column_names)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f'select {cols} from "{spec.schema}"."{spec.name}"').fetchall()
    types = [sa_type(c.data_type) for c in spec.columns]
    return {tuple(normalise(v, t) for v, t in zip(r, types, strict=True)) for r in rows}


def _replica_rows(engine: sa.Engine, schema: str, spec: TableSpec) -> set[tuple[Any, ...]]:
    cols = ", ".join(spec.column_names)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"select {cols} from {schema}.{spec.name}")).all()
    types = [sa_type(c.data_type) for c in spec.columns]
    return {tuple(normalise(v, t) for v, t in zip(r, types, strict=True)) for r in rows}


def _dump(engine: sa.Engine, schema: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table in the replica schema (the watermark table and the staging tables included)."""
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names(schema=schema)
        return {n: sorted(map(tuple, conn.execute(sa.text(f"select * from {schema}.{n}"))), key=repr) for n in names}


def test_declared_set_is_what_the_application_role_reads(specs: list[TableSpec]) -> None:
    assert {s.name: s.unique_key for s in specs} == {
        "customer_tag_profile_v1": ("customer_token",),
        "fct_customer_tags": ("customer_token", "tag_code"),
        "tag_catalog": ("tag_code",),
    }
    profile = next(s for s in specs if s.name == "customer_tag_profile_v1")
    assert profile.watermark == "as_of_date"
    assert {c.name: c.data_type for c in profile.columns}["has_val_hnw"] == "boolean"


def test_first_run_copies_every_declared_mart_and_reconciles(
    built_project: Project, engine: sa.Engine, schema: str, specs: list[TableSpec]
) -> None:
    results = _run(engine, built_project.duckdb_path, specs, schema)
    for spec in specs:
        source = _source_rows(built_project.duckdb_path, spec)
        assert source, spec.name
        assert _replica_rows(engine, schema, spec) == source, spec.name
        assert results[spec.name].upserted == len(source) == results[spec.name].replica_rows
    with engine.connect() as conn:
        marks = dict(conn.execute(sa.text(f"select table_name, high_watermark from {schema}.{WATERMARK_TABLE}")).all())
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        (as_of,) = con.execute(f'select max(as_of_date) from "{specs[1].schema}"."fct_customer_tags"').fetchone()
    assert marks == {
        "customer_tag_profile_v1": as_of.isoformat(),
        "fct_customer_tags": as_of.isoformat(),
        "tag_catalog": None,
    }


def test_rerun_changes_nothing(built_project: Project, engine: sa.Engine, schema: str, specs: list[TableSpec]) -> None:
    _run(engine, built_project.duckdb_path, specs, schema)
    before = _dump(engine, schema)
    again = _run(engine, built_project.duckdb_path, specs, schema)
    assert all(r.upserted == 0 and r.deleted == 0 for r in again.values())
    assert _dump(engine, schema) == before


def test_only_changed_rows_move_and_rows_gone_from_the_mart_are_deleted(
    source_copy: Path, engine: sa.Engine, schema: str, specs: list[TableSpec]
) -> None:
    by_name = {s.name: s for s in specs}
    _run(engine, source_copy, specs, schema)
    prof, tags, cat = by_name["customer_tag_profile_v1"], by_name["fct_customer_tags"], by_name["tag_catalog"]
    with duckdb.connect(str(source_copy)) as con:
        con.execute(
            f'update "{prof.schema}".customer_tag_profile_v1 set tag_count = tag_count + 1 '
            f'where customer_token = (select min(customer_token) from "{prof.schema}".customer_tag_profile_v1)'
        )
        con.execute(
            f"delete from \"{tags.schema}\".fct_customer_tags where customer_token || '|' || tag_code = "
            f"(select min(customer_token || '|' || tag_code) from \"{tags.schema}\".fct_customer_tags)"
        )
        con.execute(
            f"insert into \"{cat.schema}\".tag_catalog select 'ZZ_NEW', '新標籤', 'New', 'value', 'A new tag.', "
            "'data-analytics', 'daily', 'planned'"
        )
    moved = _run(engine, source_copy, specs, schema)
    assert (moved["customer_tag_profile_v1"].upserted, moved["customer_tag_profile_v1"].deleted) == (1, 0)
    assert (moved["fct_customer_tags"].upserted, moved["fct_customer_tags"].deleted) == (0, 1)
    assert (moved["tag_catalog"].upserted, moved["tag_catalog"].deleted) == (1, 0)
    for spec in specs:
        assert _replica_rows(engine, schema, spec) == _source_rows(source_copy, spec), spec.name


def test_a_new_as_of_date_advances_the_watermark(
    source_copy: Path, engine: sa.Engine, schema: str, specs: list[TableSpec]
) -> None:
    tags = next(s for s in specs if s.name == "fct_customer_tags")
    _run(engine, source_copy, specs, schema)
    with duckdb.connect(str(source_copy)) as con:
        con.execute(f'update "{tags.schema}".fct_customer_tags set as_of_date = as_of_date + 1')
        (new,) = con.execute(f'select max(as_of_date) from "{tags.schema}".fct_customer_tags').fetchone()
    moved = _run(engine, source_copy, specs, schema)
    assert moved["fct_customer_tags"].upserted == moved["fct_customer_tags"].source_rows
    assert moved["fct_customer_tags"].high_watermark == new.isoformat()
    assert moved["customer_tag_profile_v1"].upserted == 0
    assert _replica_rows(engine, schema, tags) == _source_rows(source_copy, tags)


def test_counts_that_do_not_reconcile_fail_naming_the_table(
    source_copy: Path, engine: sa.Engine, schema: str, specs: list[TableSpec]
) -> None:
    tags = next(s for s in specs if s.name == "fct_customer_tags")
    _run(engine, source_copy, specs, schema)
    with duckdb.connect(str(source_copy)) as con:
        con.execute(
            f'delete from "{tags.schema}".fct_customer_tags where tag_code = (select min(tag_code) from '
            f'"{tags.schema}".fct_customer_tags)'
        )
    with engine.begin() as conn:  # a replica that silently keeps rows (a DBA's trigger): the count tells
        conn.execute(
            sa.text(f"create function {schema}.keep() returns trigger language plpgsql as 'begin return null; end'")
        )
        conn.execute(
            sa.text(
                f"create trigger keep before delete on {schema}.fct_customer_tags for each row "
                f"execute function {schema}.keep()"
            )
        )
    with pytest.raises(ReconciliationError, match=r"^replica table fct_customer_tags: \d+ rows, the source \d+"):
        _run(engine, source_copy, specs, schema)


def test_cli_reads_the_url_from_the_environment_and_never_prints_the_password(
    built_project: Project,
    postgres: pg_server.PgServer,
    schema: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TAGLAKE_REPLICA_URL", postgres.url().render_as_string(hide_password=False))
    args = [
        "replicate",
        "--schema",
        schema,
        "--source-db",
        str(built_project.duckdb_path),
        "--manifest",
        str(built_project.target_path / "manifest.json"),
    ]
    assert cli.main(args) == 0
    first = capsys.readouterr()
    assert "fct_customer_tags" in first.out and "counts reconciled" in first.out
    assert cli.main(args) == 0
    again = capsys.readouterr()
    assert "upserted 0, deleted 0" in again.out
    for text in (first.out, first.err, again.out, again.err):
        assert postgres.password not in text


@mock_aws
def test_cli_reads_an_rds_secret_from_secrets_manager(
    built_project: Project,
    postgres: pg_server.PgServer,
    schema: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-1")
    secret = {
        "engine": "postgres",
        "username": pg_server.USER,
        "password": postgres.password,
        "host": "127.0.0.1",
        "port": postgres.port,
        "dbname": "postgres",
    }
    boto3.client("secretsmanager").create_secret(Name="taglake/replica", SecretString=json.dumps(secret))
    code = cli.main(
        [
            "replicate",
            "--secret-id",
            "taglake/replica",
            "--schema",
            schema,
            "--source-db",
            str(built_project.duckdb_path),
            "--manifest",
            str(built_project.target_path / "manifest.json"),
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert postgres.password not in out.out + out.err
    assert "***" in out.out


def test_source_read_through_a_sqlalchemy_url(
    built_project: Project, engine: sa.Engine, schema: str, specs: list[TableSpec], postgres: pg_server.PgServer
) -> None:
    """The AWS path's shape (a SQLAlchemy URL, Athena through PyAthena there): here the marts are copied into
    PostgreSQL schemas named as the manifest names them, and read from there."""
    source_db = f"src_{secrets.token_hex(4)}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"create database {source_db}"))
    src = sa.create_engine(postgres.url(source_db))
    try:
        with src.begin() as conn, duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
            for spec in specs:
                conn.execute(sa.text(f"create schema if not exists {spec.schema}"))
                cols = ", ".join(f"{c.name} {_PG_TYPE.get(c.data_type, c.data_type)}" for c in spec.columns)
                conn.execute(sa.text(f"create table {spec.schema}.{spec.name} ({cols})"))
                names = spec.column_names
                rows = con.execute(f'select {", ".join(names)} from "{spec.schema}"."{spec.name}"').fetchall()
                conn.execute(
                    sa.text(f"insert into {spec.schema}.{spec.name} values ({', '.join(':' + n for n in names)})"),
                    [dict(zip(names, r, strict=True)) for r in rows],
                )
        with open_source(url=postgres.url(source_db)) as source:
            results = replicate(engine, source, specs, schema=schema)
        assert all(r.replica_rows == r.source_rows > 0 for r in results)
        for spec in specs:
            assert _replica_rows(engine, schema, spec) == _source_rows(built_project.duckdb_path, spec)
    finally:
        src.dispose()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"drop database {source_db}"))


@pytest.mark.redteam
def test_no_raw_personal_value_or_key_material_reaches_the_replica(
    built_project: Project, engine: sa.Engine, schema: str, specs: list[TableSpec], tmp_path: Path
) -> None:
    """The replica's every table, copied into a DuckDB file, scanned by the project's own leak scanner for the raw
    lake's personal values in every spelling it knows and for the masking key's material: no hit. The same scan
    finds one planted raw value, so the check is live."""
    _run(engine, built_project.duckdb_path, specs, schema)
    copy = tmp_path / "replica.duckdb"
    with engine.connect() as conn, duckdb.connect(str(copy)) as con:
        for name in sa.inspect(conn).get_table_names(schema=schema):
            rows = conn.execute(sa.text(f"select * from {schema}.{name}")).all()
            cols = list(rows[0]._fields) if rows else ["empty"]
            con.execute(f"create table {name} ({', '.join(c + ' varchar' for c in cols)})")
            if rows:
                con.executemany(
                    f"insert into {name} values ({', '.join('?' * len(cols))})",
                    [[None if v is None else str(v) for v in r] for r in rows],
                )
    hits = scan(built_project.lake_dir, db_path=copy, folders=[], key_file=built_project.key_file)
    assert hits == []
    from taglake.privacy.scan.canaries import collect_canaries

    planted = sorted(collect_canaries(built_project.lake_dir, limit_per_kind=1)["national_id"])[0]
    with duckdb.connect(str(copy)) as con:
        con.execute("update fct_customer_tags set evidence = ? where rowid = 0", [f"aum=1; id={planted}"])
    assert scan(built_project.lake_dir, db_path=copy, folders=[], key_file=None)


@pytest.mark.redteam
def test_a_refused_row_is_reported_by_table_without_its_values(
    built_project: Project,
    specs: list[TableSpec],
    engine: sa.Engine,
    postgres: pg_server.PgServer,
    schema: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PostgreSQL's own message for a failing row quotes the row (DETAIL: Failing row contains (…)); the command
    prints one line naming the table and the driver's error class, and no value of the row."""
    with engine.begin() as conn:  # a replica table made by hand with a constraint every token breaks
        conn.execute(
            sa.text(
                f"create table {schema}.tag_catalog (tag_code varchar(256) primary key, tag_name_zh varchar(4000), "
                "tag_name_en varchar(4000), tag_family varchar(4000), definition varchar(4000), owner varchar(4000), "
                "refresh_cadence varchar(4000), status varchar(4000), check (length(tag_code) < 3))"
            )
        )
    monkeypatch.setenv("TAGLAKE_REPLICA_URL", postgres.url().render_as_string(hide_password=False))
    code = cli.main(
        [
            "replicate",
            "--schema",
            schema,
            "--source-db",
            str(built_project.duckdb_path),
            "--manifest",
            str(built_project.target_path / "manifest.json"),
        ]
    )
    out = capsys.readouterr()
    assert code == 1
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and "tag_catalog" in lines[0] and "(CheckViolation)" in lines[0], out.err
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        catalog = next(s for s in specs if s.name == "tag_catalog")
        codes = [c for (c,) in con.execute(f'select tag_code from "{catalog.schema}".tag_catalog').fetchall()]
    assert not any(c in out.err or c in out.out for c in codes)
    assert postgres.password not in out.err + out.out
