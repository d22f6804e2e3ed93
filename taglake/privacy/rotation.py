"""Key rotation that keeps history, on the local DuckDB builds: `taglake keys rotate --as-system`, run with the
system identity (TAGLAKE_SYSTEM_IDENTITY, checked as for `local_system`: taglake.privacy.system_identity).

Every token in every table of the build is rewritten from the old key's token of a clear value to the new key's
token of the same value, so snapshots, incremental facts and history marts stay one chain per customer:

1. a new key (version + 1) is made in memory, or the pending one of an interrupted rotation is taken up again;
2. per database, in one DuckDB transaction: the map (old_token, new_token) of every clear value of the raw lake
   is computed by dbt's own macro (`rekey_token_map`, compiled once: the same tokenize/normalisation staging
   uses), every token column of every table is checked to be fully covered by it, rewritten through it, and
   `key_state` records the new key;
3. the new key is written beside the old one (`<key file>.next`, owner-only) before the commit, and replaces the
   old key file atomically only after every database committed.

A failure before a commit rolls that database back: old key, old tables, consistent. A crash between a commit
and the swap leaves the pending key and a database recording it; builds refuse (key_state) until the rotation is
run again, which finishes it. Key material only ever travels as bound parameters into temporary tables; it is
never in SQL text, logs or messages.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from taglake.core.project import Project
from taglake.privacy.dbt_runner import compile_inline, local_database
from taglake.privacy.key_state import KeyState, read_key_state
from taglake.privacy.keys import KeyFileError, MaskingKey, check_key_file, read_key, write_key
from taglake.privacy.system_identity import require_local_system_act

VERSION_COLUMN = "masking_key_version"


class RotationError(RuntimeError):
    """The rotation was refused or failed; nothing was changed unless the message says otherwise."""


@dataclass(frozen=True)
class RekeyPlan:
    """What dbt derives for a rotation: the token column names and the SQL of the token map."""

    token_columns: tuple[str, ...]
    map_sql: str


@dataclass
class RotationResult:
    old_version: int
    new_version: int
    databases: list[Path] = field(default_factory=list)
    rewritten: dict[str, int] = field(default_factory=dict)  # "<db>:<schema>.<table>.<column>" → rows rewritten
    resumed: bool = False


def pending_key_file(key_file: Path) -> Path:
    """Where a rotation keeps the new key until every database has committed."""
    return key_file.with_name(key_file.name + ".next")


def rekey_plan(project: Project) -> RekeyPlan:
    """The token columns and the token-map SQL, compiled by dbt for the local target (no key is read)."""
    compiled = compile_inline(project, "{{ rekey_plan_json() }}", target="local")
    plan = json.loads(compiled)
    return RekeyPlan(tuple(plan["token_columns"]), plan["map_sql"])


def default_databases(project: Project) -> list[Path]:
    """The local builds that exist: the default one and the system account's (local_system)."""
    found = [project.duckdb_path, local_database(project, "local_system")]
    return [db for db in dict.fromkeys(found) if db.is_file()]


def _token_tables(con: duckdb.DuckDBPyConnection, token_columns: Sequence[str]) -> dict[tuple[str, str], list[str]]:
    """Every base table (schema, name) of the database with its token columns (and masking_key_version)."""
    names = [*token_columns, VERSION_COLUMN]
    rows = con.execute(
        "select c.table_schema, c.table_name, c.column_name from information_schema.columns as c "
        "join information_schema.tables as t using (table_catalog, table_schema, table_name) "
        "where t.table_type = 'BASE TABLE' and t.table_catalog = current_database() "
        f"and lower(c.column_name) in ({', '.join('?' for _ in names)}) order by 1, 2, 3",
        names,
    ).fetchall()
    tables: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in rows:
        tables.setdefault((schema, table), []).append(column)
    return {k: v for k, v in tables.items() if any(c.lower() != VERSION_COLUMN for c in v)}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
    """One statement of the rotation; the rows it changed (or counted)."""
    row = con.execute(sql, list(params)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _rekey_database(
    db: Path,
    plan: RekeyPlan,
    old: MaskingKey,
    new: MaskingKey,
    result: RotationResult,
    *,
    before_commit: Callable[[], None],
    execute: Callable[[duckdb.DuckDBPyConnection, str, Sequence[object]], int],
) -> None:
    try:
        con = duckdb.connect(str(db))
    except duckdb.Error as exc:
        raise RotationError(f"{db} cannot be opened for writing ({type(exc).__name__}): is a build running?") from None
    try:
        state = read_key_state(con)
        if state is None:
            raise RotationError(
                f"{db} records no key (no key_state): build it once with the current key (`taglake build`) first"
            )
        if _is_key(state, new):
            result.resumed = True
            return  # committed by an interrupted run of this rotation
        if not _is_key(state, old):
            raise RotationError(
                f"{db} was built with key version {state.key_version}, not the current key: "
                "it cannot be re-keyed from this key file (docs/privacy.md)"
            )
        con.execute("begin transaction")
        try:
            for name, key in (("old_keys", old), ("new_keys", new)):
                con.execute(
                    f"create temp table {name} as select ?::varchar as key_version, ?::varchar as k_inner, "
                    "?::varchar as k_outer",
                    [str(key.key_version), key.k_inner, key.k_outer],
                )
            con.execute(f"create temp table token_map as {plan.map_sql}")
            forked = _execute(
                con,
                "select count(*) from (select old_token from token_map group by old_token "
                "having count(distinct new_token) > 1)",
            )
            if forked:
                raise RotationError("the token map is not a function: two values share an old token")
            tables = _token_tables(con, plan.token_columns)
            # Every token must be one the raw lake makes: an unmapped token would silently orphan its rows.
            for (schema, table), columns in tables.items():
                for column in columns:
                    if column.lower() == VERSION_COLUMN:
                        continue
                    qualified = f"{_quote(schema)}.{_quote(table)}"
                    unmapped = _execute(
                        con,
                        f"select count(*) from {qualified} where {_quote(column)} is not null and "
                        f"{_quote(column)} not in (select old_token from token_map)",
                    )
                    if unmapped:
                        raise RotationError(
                            f"{db}: {schema}.{table}.{column} holds {unmapped} tokens that no value of the raw lake "
                            "makes under the current key: rotate over the lake the build was made from "
                            "(TAGLAKE_LAKE_DIR); nothing was changed"
                        )
            for (schema, table), columns in tables.items():
                qualified = f"{_quote(schema)}.{_quote(table)}"
                for column in columns:
                    if column.lower() == VERSION_COLUMN:
                        changed = execute(
                            con,
                            f"update {qualified} set {_quote(column)} = "
                            f"cast((select key_version from new_keys) as {_column_type(con, schema, table, column)})",
                            (),
                        )
                    else:
                        changed = execute(
                            con,
                            f"update {qualified} set {_quote(column)} = token_map.new_token from token_map "
                            f"where {qualified}.{_quote(column)} = token_map.old_token",
                            (),
                        )
                    result.rewritten[f"{db.name}:{schema}.{table}.{column}"] = changed
            execute(
                con,
                f"update {_quote(state.schema)}.key_state set key_version = ?, key_fingerprint = ?, "
                "recorded_at = cast(current_timestamp as timestamp)",
                (new.key_version, new.fingerprint()),
            )
            for name in ("token_map", "new_keys", "old_keys"):
                con.execute(f"drop table temp.{name}")
            before_commit()
            con.execute("commit")
        except duckdb.Error as exc:
            con.execute("rollback")
            # DuckDB's message may quote the values it was working on: name the kind of failure only
            raise RotationError(
                f"{db}: the rotation failed ({type(exc).__name__}) and was rolled back: the old key and the old "
                "tables are in place"
            ) from None
        except BaseException:
            con.execute("rollback")
            raise
        result.databases.append(db)
    finally:
        con.close()


def _column_type(con: duckdb.DuckDBPyConnection, schema: str, table: str, column: str) -> str:
    row = con.execute(
        "select data_type from information_schema.columns where table_schema = ? and table_name = ? "
        "and column_name = ?",
        [schema, table, column],
    ).fetchone()
    return str(row[0]) if row else "varchar"


def _is_key(state: KeyState, key: MaskingKey) -> bool:
    return (state.key_version, state.key_fingerprint) == (key.key_version, key.fingerprint())


def rotate(
    project: Project,
    *,
    as_system: bool,
    databases: Sequence[Path] | None = None,
    environ: Mapping[str, str] | None = None,
    execute: Callable[[duckdb.DuckDBPyConnection, str, Sequence[object]], int] = _execute,
) -> RotationResult:
    """Rotate the local masking key and re-key every local build (default: those that exist). Only the system
    account may, since it reads the raw lake's clear values: `as_system` is its explicit act, and the system
    identity (TAGLAKE_SYSTEM_IDENTITY in `environ`, default the process's) must check out as for `local_system`;
    refused otherwise, before the key file or any database is read."""
    if not as_system:
        raise RotationError(
            "key rotation reads the raw lake's clear values: only the system account runs it, as an explicit act "
            "(`taglake keys rotate --as-system`, docs/privacy.md)"
        )
    require_local_system_act("key rotation", environ=environ)
    key_file = project.key_file
    old = check_key_file(key_file)
    pending = pending_key_file(key_file)
    new: MaskingKey | None = None
    if pending.exists():
        try:
            new = read_key(pending)
        except KeyFileError:
            pending.unlink()
        else:
            if new.key_version != old.key_version + 1:
                pending.unlink()
                new = None
    resumed_pending = new is not None
    if new is None:
        new = MaskingKey.new(old.key_version + 1)
    result = RotationResult(old.key_version, new.key_version, resumed=resumed_pending)
    dbs = list(databases) if databases is not None else default_databases(project)
    plan = rekey_plan(project) if dbs else None

    def keep_new_key() -> None:  # the new key is on disk before any database commits to it
        if not pending.exists():
            write_key(pending, new, exclusive=True)

    try:
        for db in dbs:
            assert plan is not None
            _rekey_database(db, plan, old, new, result, before_commit=keep_new_key, execute=execute)
    except BaseException:
        if not result.databases and not result.resumed:  # no database committed to the new key: forget it
            pending.unlink(missing_ok=True)
        raise
    keep_new_key()
    os.replace(pending, key_file)
    fd = os.open(key_file.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return result
