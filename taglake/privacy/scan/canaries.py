"""Leak scanner, canaries: the clear values a leak scan looks for, read from the raw zone and the key file.

Which raw columns (and JSON keys) hold which personal data comes from the source YAMLs through taglake.core.sources,
the project's one declaration of it. Only the classes a scan reports are collected: national IDs, mobiles, e-mail
addresses and names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import duckdb

from taglake.core.sources import SourceTable, source_tables
from taglake.privacy.keys import read_key
from taglake.privacy.tokens import normalize

CANARY_CLASSES: tuple[str, ...] = ("national_id", "mobile", "email", "name")
MIN_LENGTH = 4  # shorter values are too common as substrings to mean anything
MIN_NAME_LENGTH = 2  # names are matched as whole values only, so a two-character name is safe (see collect_canaries)
KEY_PREFIX_CHARS = 16
EXTENSIONS = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}


class CanaryReadError(RuntimeError):
    """Raw files could not be read. The reader's own message is withheld: it may quote a raw line."""


def pii_fields(table: SourceTable) -> dict[str, str]:
    """The table's fields of a canary class, field -> class: JSON keys for a JSON-lines table, else columns."""
    fields = table.json_keys if table.format == "jsonl" else [c for c in table.columns if not c.partition_key]
    return {f.name: f.pii for f in fields if f.pii in CANARY_CLASSES}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _files(lake_dir: Path, table: SourceTable) -> list[str]:
    folder = lake_dir / "raw" / table.raw_prefix / table.table
    return sorted(str(p) for p in folder.rglob(f"*{EXTENSIONS[table.format]}") if p.is_file())


def _read_values(
    con: duckdb.DuckDBPyConnection, table: SourceTable, fields: dict[str, str], files: list[str]
) -> list[tuple[str, str]]:
    """(class, value) for every distinct non-blank personal value in the files."""
    if table.format == "jsonl":
        lines = (
            "read_csv($files, columns={'raw_line': 'VARCHAR'}, header=false, delim=E'\\x01', quote='', escape='', "
            "auto_detect=false)"
        )
        parts = []
        for key, cls in fields.items():
            if not key.replace("_", "").isalnum():
                continue
            # A malformed line is not parsed; its value is still taken when the key and a string value are intact.
            salvaged = f"""regexp_extract(raw_line, '"{key}"\\s*:\\s*"([^"\\\\]*)"', 1)"""
            value = f"case when json_valid(raw_line) then raw_line ->> '$.{key}' else {salvaged} end"
            parts.append(f"select '{cls}' as cls, {value} as v from {lines}")
    else:
        reader = (
            "read_parquet($files, union_by_name=true)"
            if table.format == "parquet"
            else "read_csv($files, header=true, all_varchar=true, delim=',', quote='\"', escape='\"', "
            "union_by_name=true, ignore_errors=true, strict_mode=false)"
        )
        present = {row[0] for row in con.execute(f"describe select * from {reader}", {"files": files}).fetchall()}
        parts = [
            f"select '{cls}' as cls, cast({_quote(col)} as varchar) as v from {reader}"
            for col, cls in fields.items()
            if col in present
        ]
    if not parts:
        return []
    sql = f"select distinct cls, v from ({' union all '.join(parts)}) where v is not null and trim(v) <> ''"
    return con.execute(sql, {"files": files}).fetchall()


def _forms(cls: str, value: str) -> set[str]:
    """The spellings of one raw value that count as its canaries."""
    if cls == "name":
        name = normalize(value, "name")
        return {v for v in {value, name} if len(v) >= MIN_NAME_LENGTH}
    forms = {value, normalize(value, cls)}
    if cls == "mobile":
        digits = normalize(value, "mobile")
        if len(digits) == 10 and digits.startswith("09"):
            forms |= {f"{digits[:4]}-{digits[4:7]}-{digits[7:]}", f"+886 {digits[1:4]} {digits[4:7]} {digits[7:]}"}
    return {v for v in forms if len(v.strip()) >= MIN_LENGTH}


def collect_canaries(
    lake_dir: Path,
    *,
    limit_per_kind: int | None = None,
    project_dir: Path | None = None,
) -> dict[str, set[str]]:
    """Clear values from the raw zone, by kind (`national_id`, `mobile`, `email`, `name`).

    Read with DuckDB as dbt's local target reads them (CSV all text, Parquet, JSON lines as text and parsed
    leniently); blanks are ignored. Each value is kept as written and in its normalised form (taglake.privacy.tokens):
    national IDs upper-cased, addresses lower-cased, mobiles as `09xxxxxxxx` and in the spellings
    `0912-345-678` and `+886 912 345 678` as well. Values shorter than 4 characters are dropped, except names:
    names of 2 characters or more are kept because a name is only ever matched as a *whole value* (a whole relation
    cell; in files, a whole run of letters, or for 3 characters or more any part of one), never as a part of a
    cell, where a two-character name would be found inside countless unrelated words.

    `limit_per_kind` keeps that many distinct values per kind (all their spellings), picked by a hash of the value
    so that the sample spreads across letters, tables and days. A file set that cannot be read raises
    CanaryReadError without the reader's message (it may quote raw personal data).
    """
    found: dict[str, dict[str, set[str]]] = {cls: {} for cls in CANARY_CLASSES}
    con = duckdb.connect()
    try:
        for table in source_tables(project_dir).values():
            fields = pii_fields(table)
            files = _files(lake_dir, table) if fields and table.format in EXTENSIONS else []
            if not files:
                continue
            try:
                rows = _read_values(con, table, fields, files)
            except duckdb.Error as exc:
                raise CanaryReadError(f"{table.name}: could not read its files ({type(exc).__name__})") from None
            for cls, value in rows:
                forms = _forms(cls, value)
                if forms:
                    found[cls].setdefault(normalize(value, cls), set()).update(forms)
    finally:
        con.close()
    canaries: dict[str, set[str]] = {}
    for cls, by_value in found.items():
        keys: Iterable[str] = by_value
        if limit_per_kind is not None:
            keys = sorted(by_value, key=lambda v: hashlib.sha256(v.encode()).digest())[:limit_per_kind]
        canaries[cls] = set().union(*(by_value[k] for k in keys))
    return canaries


def key_canaries(key_file: Path) -> set[str]:
    """The masking key's two parts and the first 16 hex digits of each (a key shown cut short is still a leak)."""
    key = read_key(key_file)
    return {key.k_inner, key.k_outer, key.k_inner[:KEY_PREFIX_CHARS], key.k_outer[:KEY_PREFIX_CHARS]}
