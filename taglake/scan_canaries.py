"""Leak scanner, canaries: the clear values a leak scan looks for, read from the raw zone and the key file.

Which raw columns hold which personal data is read from the source YAMLs (`meta: {pii: <class>}` on a column,
`json_pii` on a JSON-lines table), the project's one source of truth for it. Only the classes a scan reports are
collected: national IDs, mobiles, e-mail addresses and names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from taglake.keys import read_key
from taglake.project import find_project_dir
from taglake.tokens import normalize

CANARY_CLASSES: tuple[str, ...] = ("national_id", "mobile", "email", "name")
MIN_LENGTH = 4  # shorter values are too common as substrings to mean anything
MIN_NAME_LENGTH = 2  # names are matched as whole values only, so a two-character name is safe (see collect_canaries)
KEY_PREFIX_CHARS = 16
EXTENSIONS = {"csv": ".csv", "parquet": ".parquet", "jsonl": ".jsonl"}
PARTITION_COLUMNS = frozenset({"year", "month", "day"})


class CanaryReadError(RuntimeError):
    """Raw files could not be read. The reader's own message is withheld: it may quote a raw line."""


@dataclass(frozen=True)
class RawPii:
    """The personal-data columns of one raw table, as its source YAML declares them."""

    source: str
    table: str
    raw_prefix: str
    format: str | None  # csv, parquet or jsonl; None to go by the files' extension
    columns: dict[str, str]  # column -> class (canary classes only)
    json_keys: dict[str, str]  # JSON lines: top-level key -> class

    @property
    def name(self) -> str:
        return f"{self.source}.{self.table}"


def _meta(node: dict) -> dict:
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}


def raw_pii(project_dir: Path | None = None) -> list[RawPii]:
    """Every raw table with personal data of a canary class, from models/staging/*/_*__sources.yml."""
    root = project_dir or find_project_dir()
    tables: list[RawPii] = []
    for path in sorted((root / "models" / "staging").glob("*/_*__sources.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for source in doc.get("sources") or []:
            source_meta = _meta(source)
            for table in source.get("tables") or []:
                meta = {**source_meta, **_meta(table)}
                columns = {
                    c["name"]: _meta(c)["pii"]
                    for c in table.get("columns") or []
                    if _meta(c).get("pii") in CANARY_CLASSES
                }
                json_keys = {k: v for k, v in (meta.get("json_pii") or {}).items() if v in CANARY_CLASSES}
                if columns or json_keys:
                    tables.append(
                        RawPii(
                            source=source["name"],
                            table=table["name"],
                            raw_prefix=str(meta.get("raw_prefix") or source["name"]),
                            format=meta.get("format"),
                            columns=columns,
                            json_keys=json_keys,
                        )
                    )
    if not tables:
        raise FileNotFoundError(f"no source YAML under {root / 'models' / 'staging'} declares personal data")
    return tables


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _files(lake_dir: Path, spec: RawPii) -> tuple[str, list[str]]:
    folder = lake_dir / "raw" / spec.raw_prefix / spec.table
    formats = [spec.format] if spec.format in EXTENSIONS else list(EXTENSIONS)
    for fmt in formats:
        files = sorted(str(p) for p in folder.rglob(f"*{EXTENSIONS[fmt]}") if p.is_file())
        if files:
            return fmt, files
    return formats[0], []


def _read_values(con: duckdb.DuckDBPyConnection, fmt: str, files: list[str], spec: RawPii) -> list[tuple[str, str]]:
    """(class, value) for every distinct non-blank personal value in the files."""
    if fmt == "jsonl":
        lines = (
            "read_csv($files, columns={'raw_line': 'VARCHAR'}, header=false, delim=E'\\x01', quote='', escape='', "
            "new_line='\\n', auto_detect=false)"
        )
        parts = []
        for key, cls in spec.json_keys.items():
            if not key.replace("_", "").isalnum():
                continue
            # A malformed line is not parsed; its value is still taken when the key and a string value are intact.
            salvaged = f"""regexp_extract(raw_line, '"{key}"\\s*:\\s*"([^"\\\\]*)"', 1)"""
            value = f"case when json_valid(raw_line) then raw_line ->> '$.{key}' else {salvaged} end"
            parts.append(f"select '{cls}' as cls, {value} as v from {lines}")
    else:
        reader = (
            "read_parquet($files, union_by_name=true)"
            if fmt == "parquet"
            else "read_csv($files, header=true, all_varchar=true, delim=',', quote='\"', escape='\"', "
            "union_by_name=true, ignore_errors=true, strict_mode=false)"
        )
        present = {row[0] for row in con.execute(f"describe select * from {reader}", {"files": files}).fetchall()}
        parts = [
            f"select '{cls}' as cls, cast({_quote(col)} as varchar) as v from {reader}"
            for col, cls in spec.columns.items()
            if col in present and col not in PARTITION_COLUMNS
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
    leniently); blanks are ignored. Each value is kept as written and in its normalised form (taglake.tokens):
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
        for spec in raw_pii(project_dir):
            fmt, files = _files(lake_dir, spec)
            if not files:
                continue
            try:
                rows = _read_values(con, fmt, files, spec)
            except duckdb.Error as exc:
                raise CanaryReadError(f"{spec.name}: could not read its {fmt} files ({type(exc).__name__})") from None
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
