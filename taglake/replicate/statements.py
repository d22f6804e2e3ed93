"""The replica's tables and statements, built once with SQLAlchemy and compiled by whichever dialect the target
is: Oracle (RDS, oracledb) in production, PostgreSQL in the tests. Every statement is SQLAlchemy Core except the
MERGE, which SQLAlchemy has no construct for: it is written here once, from identifiers quoted by the target
dialect's own preparer, in the syntax Oracle and PostgreSQL 15+ share (no AS before aliases, the ON condition in
parentheses, unqualified columns in UPDATE SET, no update of the key columns)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from taglake.replicate.spec import STAGING_SUFFIX, WATERMARK_TABLE, ReplicationError, TableSpec
from taglake.replicate.types import UnmappedType, sa_type


@dataclass(frozen=True)
class ReplicaTables:
    spec: TableSpec
    target: sa.Table
    staging: sa.Table


def _table(metadata: sa.MetaData, name: str, spec: TableSpec, schema: str | None) -> sa.Table:
    columns = []
    for col in spec.columns:
        try:
            type_ = sa_type(col.data_type, key=col.name in spec.unique_key)
        except UnmappedType as exc:
            raise ReplicationError(f"{spec.name}.{col.name}: {exc}") from None
        columns.append(sa.Column(col.name, type_, nullable=col.nullable, primary_key=col.name in spec.unique_key))
    return sa.Table(name, metadata, *columns, schema=schema)


def replica_tables(metadata: sa.MetaData, spec: TableSpec, schema: str | None) -> ReplicaTables:
    """The replicated table (its contract's columns, primary key = the declared unique key) and its staging twin,
    into which a run loads the changed rows before one MERGE."""
    return ReplicaTables(
        spec, _table(metadata, spec.name, spec, schema), _table(metadata, spec.name + STAGING_SUFFIX, spec, schema)
    )


def watermark_table(metadata: sa.MetaData, schema: str | None) -> sa.Table:
    """One row per replicated table: the high watermark last replicated and the counts of that run."""
    return sa.Table(
        WATERMARK_TABLE,
        metadata,
        sa.Column("table_name", sa.String(128), primary_key=True),
        sa.Column("watermark_column", sa.String(128)),
        sa.Column("high_watermark", sa.String(64)),  # ISO text: a date or timestamp of the watermark column
        sa.Column("source_rows", sa.BigInteger, nullable=False),
        sa.Column("upserted_rows", sa.BigInteger, nullable=False),
        sa.Column("deleted_rows", sa.BigInteger, nullable=False),
        sa.Column("replicated_at", sa.DateTime, nullable=False),
        schema=schema,
    )


def merge_sql(dialect: sa.Dialect, target: sa.Table, staging: sa.Table, key: Sequence[str]) -> str:
    """MERGE the staging table's rows into the target on the key: update the rest when matched, insert when not."""
    prep = dialect.identifier_preparer
    q = prep.quote
    cols = [c.name for c in target.columns]
    others = [c for c in cols if c not in key]
    if not key:
        raise ReplicationError(f"{target.name}: no unique key to merge on")
    on = " and ".join(f"t.{q(k)} = s.{q(k)}" for k in key)
    sql = f"merge into {prep.format_table(target)} t using {prep.format_table(staging)} s on ({on})"
    if others:
        sql += " when matched then update set " + ", ".join(f"{q(c)} = s.{q(c)}" for c in others)
    inserted, values = ", ".join(q(c) for c in cols), ", ".join(f"s.{q(c)}" for c in cols)
    sql += f" when not matched then insert ({inserted}) values ({values})"
    return sql


def delete_by_key(target: sa.Table, key: Sequence[str]) -> sa.Delete:
    """DELETE one row by its key (executed once per key, with bound parameters `k_<column>`)."""
    return target.delete().where(sa.and_(*(target.c[k] == sa.bindparam(f"k_{k}") for k in key)))


def oracle_dialect(version: tuple[int, ...] = (19,)) -> sa.Dialect:
    """SQLAlchemy's Oracle dialect as a connection to that server version sets it up (RDS Oracle 19c by default:
    no BOOLEAN column type, so booleans are SMALLINT 0/1), for compiling statements without a server."""
    from sqlalchemy.dialects import oracle

    dialect = oracle.dialect(max_identifier_length=30)
    dialect.server_version_info = version
    dialect.supports_native_boolean = version >= (23,)
    return dialect


def every_statement(dialect: sa.Dialect, specs: Sequence[TableSpec], schema: str | None) -> list[tuple[str, str]]:
    """Every statement a run issues, compiled by `dialect`, as (what, SQL): the DDL, the staging load, the MERGE,
    the delete, and the watermark's select, delete and insert. What the Oracle check in the tests reads."""
    from sqlalchemy.schema import CreateTable

    metadata = sa.MetaData()
    wm = watermark_table(metadata, schema)
    out = [("create watermark", str(CreateTable(wm).compile(dialect=dialect)))]
    out += [
        ("select watermark", str(sa.select(wm).where(wm.c.table_name == "x").compile(dialect=dialect))),
        ("delete watermark", str(wm.delete().where(wm.c.table_name == "x").compile(dialect=dialect))),
        ("insert watermark", str(wm.insert().compile(dialect=dialect))),
    ]
    for spec in specs:
        t = replica_tables(metadata, spec, schema)
        out += [
            (f"create {spec.name}", str(CreateTable(t.target).compile(dialect=dialect))),
            (f"create {t.staging.name}", str(CreateTable(t.staging).compile(dialect=dialect))),
            (f"select {spec.name}", str(sa.select(t.target).compile(dialect=dialect))),
            (f"count {spec.name}", str(sa.select(sa.func.count()).select_from(t.target).compile(dialect=dialect))),
            (f"empty {t.staging.name}", str(t.staging.delete().compile(dialect=dialect))),
            (f"load {t.staging.name}", str(t.staging.insert().compile(dialect=dialect))),
            (f"merge {spec.name}", merge_sql(dialect, t.target, t.staging, spec.unique_key)),
            (f"delete {spec.name}", str(delete_by_key(t.target, spec.unique_key).compile(dialect=dialect))),
        ]
    return out
