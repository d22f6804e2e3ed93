"""One replication run: for each declared relation, in one transaction of the replica,

1. create the replicated table, its staging twin and the watermark table if they are missing (DDL from the
   contract; an existing table whose columns differ from the contract stops the run: migrate it first);
2. read the source's rows whose watermark column is at or after the stored high watermark (inclusive, so a
   partition re-delivered without a new as-of date is seen again; a relation without one is read whole) and
   compare them, value by value, with the replica's rows: only new or changed rows are loaded into staging and
   MERGEd into the table on its unique key;
3. delete the replica's rows whose key is no longer in the source;
4. record the new high watermark and the counts, only when something moved or the watermark advanced, so a
   rerun changes nothing at all.

After the run every table's row count is compared with the source's: a difference fails the run, naming the table.
No value of a row is ever printed: errors of the replica's driver are reported by class and table only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from taglake.replicate.source import Source
from taglake.replicate.spec import ReplicationError, TableSpec
from taglake.replicate.statements import ReplicaTables, delete_by_key, merge_sql, replica_tables, watermark_table
from taglake.replicate.types import normalise


@dataclass(frozen=True)
class TableResult:
    table: str
    source_rows: int
    replica_rows: int
    upserted: int
    deleted: int
    high_watermark: str | None


class ReconciliationError(ReplicationError):
    """Source and replica counts differ after a run."""


def _check_columns(conn: sa.Connection, table: sa.Table) -> None:
    existing = {c["name"].lower() for c in sa.inspect(conn).get_columns(table.name, schema=table.schema)}
    if existing != {c.name for c in table.columns}:
        raise ReplicationError(
            f"replica table {table.name}: its columns differ from the mart's contract; migrate or drop it, then rerun"
        )


def _normalised(rows: Sequence[Sequence[Any]], table: sa.Table) -> list[tuple[Any, ...]]:
    types = [c.type for c in table.columns]
    limits = [(c.name, getattr(c.type, "length", None)) for c in table.columns]
    out = []
    for row in rows:
        values = tuple(normalise(v, t) for v, t in zip(row, types, strict=True))
        for (name, limit), value in zip(limits, values, strict=True):
            # Oracle counts VARCHAR2's 4000 in bytes: the UTF-8 length is held to the declared length.
            if limit and isinstance(value, str) and len(value.encode("utf-8")) > limit:
                raise ReplicationError(
                    f"{table.name}.{name}: a value is longer than the replica's {limit} bytes; widen the column "
                    "in taglake/replicate/types.py (the value is not shown)"
                )
        out.append(values)
    return out


def _wm_text(value: Any) -> str | None:
    return None if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)


def _replicate_one(conn: sa.Connection, tables: ReplicaTables, wm: sa.Table, source: Source) -> TableResult:
    spec, target, staging = tables.spec, tables.target, tables.staging
    cols = [c.name for c in target.columns]
    key_idx = [cols.index(k) for k in spec.unique_key]

    def key_of(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(row[i] for i in key_idx)

    stored = conn.execute(sa.select(wm).where(wm.c.table_name == spec.name)).mappings().first()
    since = None
    if spec.watermark and stored is not None and stored["watermark_column"] == spec.watermark:
        since = normalise(stored["high_watermark"], target.c[spec.watermark].type)
    candidates = _normalised(source.rows(spec, cols, since), target)
    replica = {key_of(r): r for r in _normalised(conn.execute(sa.select(target)).all(), target)}
    changed = [r for r in candidates if replica.get(key_of(r)) != r]
    source_keys = {
        tuple(normalise(v, target.c[k].type) for v, k in zip(r, spec.unique_key, strict=True))
        for r in source.rows(spec, spec.unique_key, None)
    }
    gone = [k for k in replica if k not in source_keys]
    if changed:
        conn.execute(staging.delete())
        conn.execute(staging.insert(), [dict(zip(cols, r, strict=True)) for r in changed])
        conn.execute(sa.text(merge_sql(conn.dialect, target, staging, spec.unique_key)))
        conn.execute(staging.delete())
    if gone:
        conn.execute(
            delete_by_key(target, spec.unique_key),
            [{f"k_{k}": v for k, v in zip(spec.unique_key, g, strict=True)} for g in gone],
        )
    source_rows = source.count(spec)
    high = _wm_text(source.max_of(spec, spec.watermark)) if spec.watermark else None
    if changed or gone or stored is None or stored["high_watermark"] != high:
        conn.execute(wm.delete().where(wm.c.table_name == spec.name))
        conn.execute(
            wm.insert().values(
                table_name=spec.name,
                watermark_column=spec.watermark,
                high_watermark=high,
                source_rows=source_rows,
                upserted_rows=len(changed),
                deleted_rows=len(gone),
                replicated_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
            )
        )
    return TableResult(spec.name, source_rows, -1, len(changed), len(gone), high)


def replicate(
    engine: sa.Engine, source: Source, specs: Sequence[TableSpec], *, schema: str | None
) -> list[TableResult]:
    """Replicate every declared relation (see the module), then reconcile the counts."""
    metadata = sa.MetaData()
    wm = watermark_table(metadata, schema)
    all_tables = [replica_tables(metadata, spec, schema) for spec in specs]
    results = []
    for tables in all_tables:
        where = tables.spec.name
        try:
            with engine.begin() as conn:
                metadata.create_all(conn, tables=[wm, tables.target, tables.staging], checkfirst=True)
                _check_columns(conn, tables.target)
                results.append(_replicate_one(conn, tables, wm, source))
        except sa.exc.SQLAlchemyError as exc:
            cause = type(getattr(exc, "orig", None) or exc).__name__
            raise ReplicationError(
                f"replica table {where}: the replica refused a statement or could not be reached ({cause}); check "
                "the URL's host and credentials, the replica's schema, grants and space (no row value is shown)"
            ) from None
    return _reconciled(engine, all_tables, results)


def _reconciled(engine: sa.Engine, all_tables: list[ReplicaTables], results: list[TableResult]) -> list[TableResult]:
    out = []
    with engine.connect() as conn:
        for tables, result in zip(all_tables, results, strict=True):
            n = int(conn.execute(sa.select(sa.func.count()).select_from(tables.target)).scalar_one())
            if n != result.source_rows:
                raise ReconciliationError(
                    f"replica table {tables.target.name}: {n} rows, the source {result.source_rows}: counts do "
                    "not reconcile; rerun taglake replicate, and if it persists look for writers to the replica"
                )
            out.append(
                TableResult(result.table, result.source_rows, n, result.upserted, result.deleted, result.high_watermark)
            )
    return out
