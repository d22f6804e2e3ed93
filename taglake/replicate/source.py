"""Where the marts are read from: the local DuckDB build (read-only), or any SQLAlchemy URL (on AWS, Athena through
PyAthena: `awsathena+rest://…`). Both run the same three fixed queries per relation, with quoted identifiers from
the declaration and the manifest and the watermark as a bound parameter."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import duckdb
import sqlalchemy as sa

from taglake.replicate.spec import ReplicationError, TableSpec


class Source(Protocol):
    def rows(self, spec: TableSpec, columns: Sequence[str], since: Any | None) -> list[tuple[Any, ...]]: ...

    def count(self, spec: TableSpec) -> int: ...

    def max_of(self, spec: TableSpec, column: str) -> Any: ...


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DuckDBSource:
    """The local build, opened read-only (the build's schemas as the manifest names them)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def _relation(self, spec: TableSpec) -> str:
        return f"{_q(spec.schema)}.{_q(spec.name)}"

    def rows(self, spec: TableSpec, columns: Sequence[str], since: Any | None) -> list[tuple[Any, ...]]:
        sql = f"select {', '.join(_q(c) for c in columns)} from {self._relation(spec)}"
        if since is not None and spec.watermark:
            return self._con.execute(sql + f" where {_q(spec.watermark)} >= ?", [since]).fetchall()
        return self._con.execute(sql).fetchall()

    def count(self, spec: TableSpec) -> int:
        return int(self._con.execute(f"select count(*) from {self._relation(spec)}").fetchone()[0])  # type: ignore[index]

    def max_of(self, spec: TableSpec, column: str) -> Any:
        return self._con.execute(f"select max({_q(column)}) from {self._relation(spec)}").fetchone()[0]  # type: ignore[index]


class SqlAlchemySource:
    """Any engine SQLAlchemy reaches (Athena through PyAthena; PostgreSQL in the tests)."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self._q = conn.dialect.identifier_preparer.quote

    def _relation(self, spec: TableSpec) -> str:
        return f"{self._q(spec.schema)}.{self._q(spec.name)}"

    def rows(self, spec: TableSpec, columns: Sequence[str], since: Any | None) -> list[tuple[Any, ...]]:
        sql = f"select {', '.join(self._q(c) for c in columns)} from {self._relation(spec)}"
        if since is not None and spec.watermark:
            result = self._conn.execute(sa.text(sql + f" where {self._q(spec.watermark)} >= :since"), {"since": since})
        else:
            result = self._conn.execute(sa.text(sql))
        return [tuple(r) for r in result]

    def count(self, spec: TableSpec) -> int:
        return int(self._conn.execute(sa.text(f"select count(*) from {self._relation(spec)}")).scalar_one())

    def max_of(self, spec: TableSpec, column: str) -> Any:
        return self._conn.execute(sa.text(f"select max({self._q(column)}) from {self._relation(spec)}")).scalar()


@contextmanager
def open_source(*, duckdb_path: Path | None = None, url: str | sa.URL | None = None) -> Iterator[Source]:
    """A DuckDB build file (read-only) or a SQLAlchemy URL; exactly one."""
    if (duckdb_path is None) == (url is None):
        raise ReplicationError("replicate: name one source, a DuckDB build (--source-db) or a URL (--source-url-env)")
    if duckdb_path is not None:
        if not duckdb_path.is_file():
            raise ReplicationError(f"{duckdb_path}: no build there; run `taglake build` or pass --source-db")
        con = duckdb.connect(str(duckdb_path), read_only=True)
        try:
            yield DuckDBSource(con)
        finally:
            con.close()
        return
    engine = sa.create_engine(url)  # type: ignore[arg-type]
    try:
        with engine.connect() as conn:
            yield SqlAlchemySource(conn)
    finally:
        engine.dispose()
