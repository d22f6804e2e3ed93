"""The consumption database: what users may read of a local build, and the locked connection their SQL runs on.

A local build holds every layer (staging, intermediate, snapshots, marts, reference, vault on the system build) and
is built from files that hold clear data (the raw lake, the masking key). User SQL never runs there. The tool itself
copies the consumption relations — every table and view of the schemas `*_<layer>` of each consumption layer of the
access declaration (`vars.access.consumption_layers`: marts, reference, snapshots) — into a DuckDB file of their own
beside the build (`<build>.consumption.duckdb`), again whenever the build is newer or the declaration names other
layers, with its own fixed SQL. User SQL then runs on a connection that attaches that file read-only and locks
DuckDB down: no file, URL or extension access (`enable_external_access = false`, which also stops COPY, ATTACH of
files, INSTALL/LOAD, EXPORT and every `read_*`/`glob`), no extension autoloading or autoinstalling, no community
extensions, no Python replacement scans, and `lock_configuration = true`, so no `SET`/`RESET` can undo any of it.
What the SQL can name — even by a name it builds at run time (`query_table`, `query`) — is only what that file
holds. See docs/privacy.md.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import duckdb

from taglake.privacy.access_policy import consumption_layers

# Set when the connection is made, before anything is attached.
_STARTUP_SETTINGS: dict[str, object] = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
}
# Set once the consumption file is attached, in this order: the last one freezes every setting.
_LOCK_STATEMENTS = ("set enable_external_access = false", "set lock_configuration = true")
# What a locked connection must report, checked after locking (fail closed if DuckDB ever ignored one).
LOCKED_SETTINGS = {
    "enable_external_access": "false",
    "lock_configuration": "true",
    "autoload_known_extensions": "false",
    "autoinstall_known_extensions": "false",
    "allow_community_extensions": "false",
    "python_enable_replacements": "false",
}


# Catalog names DuckDB keeps for itself: a build file named after one cannot be attached under its stem.
_RESERVED_CATALOGS = frozenset({"system", "temp", "memory", "main"})
# The name the file being written is attached under while it is filled (never a build's stem: it has a dot).
_TARGET = "consumption.publishing"


class ConsumptionError(RuntimeError):
    """The consumption database cannot be published or opened."""


def consumption_path(build: Path) -> Path:
    """Where the consumption relations of `build` are published: beside it, `<stem>.consumption.duckdb`."""
    return build.with_name(f"{build.stem}.consumption.duckdb")


def schema_layer(schema: str, layers: Sequence[str]) -> str | None:
    """The consumption layer a schema of the build belongs to (`<schema>_<layer>`), or None."""
    return next((layer for layer in layers if schema.lower().endswith(f"_{layer.lower()}")), None)


def _build_mtime_ns(build: Path) -> int:
    wal = build.with_name(build.name + ".wal")
    return max(p.stat().st_mtime_ns for p in (build, wal) if p.exists())


def is_current(build: Path, published: Path, layers: Sequence[str]) -> bool:
    """The published file exists, is at least as new as the build (and its write-ahead log), and holds exactly the
    consumption `layers` (a changed declaration publishes again: a layer taken off is never left readable)."""
    if not published.is_file() or published.stat().st_mtime_ns < _build_mtime_ns(build):
        return False
    try:
        held = {schema_layer(schema, layers) for schema, _ in consumption_relations(published)}
    except duckdb.Error:  # not a readable DuckDB file: publish it again
        return False
    return held == set(layers)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def publish(
    build: Path,
    published: Path | None = None,
    *,
    force: bool = False,
    project_dir: Path | None = None,
) -> Path:
    """Copy every table and view of the build's consumption schemas — of the consumption layers of the access
    declaration of the project at `project_dir` (default: this checkout) — into the consumption file, unless it is
    already current. The copy is written under a temporary name and moved into place, so a reader
    never sees half of it."""
    published = published or consumption_path(build)
    layers = consumption_layers(project_dir)
    if not build.is_file():
        raise FileNotFoundError(f"no local build at {build}: run `taglake build` first")
    if not force and is_current(build, published, layers):
        return published
    tmp = published.with_name(f".{published.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    source = build.stem
    try:
        # Both files attached under names of the tool's choosing: the build as its stem (the catalog its views and
        # dbt's compiled SQL name), the new file under another name.
        with duckdb.connect(":memory:", config=dict(_STARTUP_SETTINGS)) as con:
            con.execute(f"attach {_literal(tmp)} as {_quote(_TARGET)}")
            con.execute(f"attach {_literal(build)} as {_quote(source)} (read_only)")
            relations = con.execute(
                "select table_schema, table_name from information_schema.tables where table_catalog = ? order by 1, 2",
                [source],
            ).fetchall()
            wanted = [(s, t) for s, t in relations if schema_layer(s, layers)]
            if not wanted:
                raise ConsumptionError(
                    f"the build at {build} has no relations of the consumption layers ({', '.join(layers)}): "
                    "run `taglake build` first"
                )
            for schema in sorted({s for s, _ in wanted}):
                con.execute(f"create schema {_quote(_TARGET)}.{_quote(schema)}")
            for schema, table in wanted:
                con.execute(
                    f"create table {_quote(_TARGET)}.{_quote(schema)}.{_quote(table)} as "
                    f"select * from {_quote(source)}.{_quote(schema)}.{_quote(table)}"
                )
            con.execute(f"detach {_quote(source)}")
            con.execute(f"checkpoint {_quote(_TARGET)}")
            con.execute(f"detach {_quote(_TARGET)}")
        os.replace(tmp, published)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            leftover.unlink(missing_ok=True)
    return published


def _literal(path: Path) -> str:
    return _string(str(path))


def _string(text: str) -> str:
    """A SQL string literal of `text`."""
    return "'" + text.replace("'", "''") + "'"


def lock(con: duckdb.DuckDBPyConnection) -> None:
    """Forbid file, URL and extension access on `con` and freeze its configuration; check that both hold."""
    for statement in _LOCK_STATEMENTS:
        con.execute(statement)
    # Literals, not parameters: binding Python parameters makes DuckDB import pandas (most of a second).
    names = ", ".join(_string(name) for name in LOCKED_SETTINGS)
    found = dict(con.execute(f"select name, value from duckdb_settings() where name in ({names})").fetchall())
    wrong = sorted(name for name, value in LOCKED_SETTINGS.items() if str(found.get(name, "")).lower() != value)
    if wrong:
        raise ConsumptionError(f"DuckDB did not take the lock settings {', '.join(wrong)}: refusing to run user SQL")


@contextmanager
def locked_connection(
    database: Path, *, catalog: str, schema: str | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for user SQL: `database` attached read-only as `catalog` (the name dbt's compiled SQL uses, the
    build's file stem) and made the default — with `schema` (the marts) as the default schema when it holds one, so
    unqualified names resolve there as on Athena — then locked (see `lock`: no `USE` or `SET` can change it)."""
    if not database.is_file():
        raise FileNotFoundError(f"no database at {database}: run `taglake build` first")
    if catalog.lower() in _RESERVED_CATALOGS:
        raise ConsumptionError(f"a build file may not be named {catalog}.duckdb (a DuckDB catalog name): rename it")
    con = duckdb.connect(":memory:", config=dict(_STARTUP_SETTINGS))
    try:
        con.execute(f"attach {_literal(database)} as {_quote(catalog)} (read_only)")
        con.execute(f"use {_quote(catalog)}")
        if (
            schema
            and con.execute(
                "select 1 from information_schema.schemata "
                f"where catalog_name = {_string(catalog)} and schema_name = {_string(schema)}"
            ).fetchone()
        ):
            con.execute(f"use {_quote(catalog)}.{_quote(schema)}")
        lock(con)
        yield con
    finally:
        con.close()


def consumption_relations(published: Path) -> list[tuple[str, str]]:
    """(schema, name) of every relation the consumption file holds."""
    with duckdb.connect(str(published), read_only=True, config=dict(_STARTUP_SETTINGS)) as con:
        return con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2"
        ).fetchall()
