"""Which masking key built a local database: the relation `<schema>_privacy.key_state` (one row: key_version,
key_fingerprint, recorded_at), written by dbt at the end of every run (macros/privacy/key_checks.sql) and changed
only by a rotation (taglake.privacy.rotation). A build whose key is not the recorded one would orphan every token
of the history, so it is refused, here before dbt starts and again by dbt's on-run-start hook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from taglake.privacy.keys import MaskingKey

KEY_STATE_TABLE = "key_state"
PRIVACY_SCHEMA_SUFFIX = "_privacy"


class KeyStateError(RuntimeError):
    """The key is not the one the database was built with."""


@dataclass(frozen=True)
class KeyState:
    schema: str
    key_version: int
    key_fingerprint: str


def key_state_schema(con: duckdb.DuckDBPyConnection) -> str | None:
    """The schema holding key_state in an open database, or None when the database has none."""
    rows = con.execute(
        "select table_schema from information_schema.tables where table_name = ? and table_schema like ?",
        [KEY_STATE_TABLE, "%" + PRIVACY_SCHEMA_SUFFIX],
    ).fetchall()
    if len(rows) > 1:
        raise KeyStateError(f"more than one {KEY_STATE_TABLE} relation in the database: keep one (docs/privacy.md)")
    return rows[0][0] if rows else None


def read_key_state(con: duckdb.DuckDBPyConnection) -> KeyState | None:
    """The recorded key of an open database; None when nothing was recorded yet (a new database)."""
    schema = key_state_schema(con)
    if schema is None:
        return None
    rows = con.execute(f'select key_version, key_fingerprint from "{schema}".{KEY_STATE_TABLE}').fetchall()
    if not rows:
        return None
    if len(rows) != 1:
        raise KeyStateError(f"{schema}.{KEY_STATE_TABLE} must hold one row, not {len(rows)} (docs/privacy.md)")
    return KeyState(schema, int(rows[0][0]), str(rows[0][1]))


def recorded_key_state(db_path: Path) -> KeyState | None:
    """The recorded key of the database file at `db_path` (opened read-only); None for no file or no record."""
    if not db_path.is_file():
        return None
    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error:
        return None  # in use by another process: dbt's on-run-start hook checks it instead
    try:
        return read_key_state(con)
    finally:
        con.close()


def mismatch_message(db_path: Path, state: KeyState, key: MaskingKey, key_file: Path) -> str:
    if state.key_version != key.key_version:
        what = f"key version {state.key_version}, but {key_file} holds version {key.key_version}"
    else:
        what = f"key version {state.key_version}, but {key_file} holds another key of that version"
    return (
        f"{db_path} was built with masking {what}: a build with it would orphan every token of the history. Use the "
        "key it was built with, or change keys only with `taglake keys rotate --as-system` (docs/privacy.md)"
    )


def check_build_key(db_path: Path, key: MaskingKey, *, key_file: Path) -> None:
    """Refuse (KeyStateError, one line) when the database at `db_path` records another key than `key`."""
    state = recorded_key_state(db_path)
    if state is not None and (state.key_version, state.key_fingerprint) != (key.key_version, key.fingerprint()):
        raise KeyStateError(mismatch_message(db_path, state, key, key_file))
