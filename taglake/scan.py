"""Leak scanner: find clear personal data or key material where nobody but the system account may see it.

The canaries are the clear values themselves, read from the raw zone (`collect_canaries`) and the key file
(`key_canaries`). A scan looks for them in a DuckDB build (`scan_duckdb`: every text column of every table and
view) and in files (`scan_files`: dbt's target/ and logs/, exports). Hits name the place and the kind of data,
never the value: at most a fingerprint valid within one report (see Hit). The matching rules per kind are in
taglake.scan_match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from taglake.scan_canaries import CanaryReadError, collect_canaries, key_canaries, pii_fields
from taglake.scan_db import ScanError, scan_duckdb
from taglake.scan_files import scan_files
from taglake.scan_match import KINDS, Hit, new_salt, prepare, sort_hits

__all__ = [
    "KINDS",
    "CanaryReadError",
    "Hit",
    "ScanError",
    "collect_canaries",
    "format_report",
    "key_canaries",
    "pii_fields",
    "scan",
    "scan_duckdb",
    "scan_files",
]


def scan(
    lake_dir: Path | None,
    *,
    db_path: Path | None,
    folders: Sequence[Path],
    key_file: Path | None,
    limit_per_kind: int | None = None,
) -> list[Hit]:
    """Every hit of the raw zone's personal data (and the key file's key material) in the build and the folders.

    One salt serves the whole scan, so a value has the same fingerprint in a relation and in a file. The raw zone
    and the key file are never scanned themselves, even when they lie under one of the folders.
    """
    canaries: dict[str, set[str]] = collect_canaries(lake_dir, limit_per_kind=limit_per_kind) if lake_dir else {}
    if key_file is not None:
        canaries["key_material"] = key_canaries(key_file)
    prepared = prepare(canaries)
    salt = new_salt()
    hits = scan_duckdb(db_path, prepared, salt=salt) if db_path is not None else []
    exclude = [p for p in (key_file, lake_dir / "raw" if lake_dir else None) if p is not None]
    hits += scan_files(folders, prepared, exclude=exclude, salt=salt)
    return sort_hits(hits)


def format_report(hits: list[Hit]) -> str:
    """A report for people: one line per hit (place, kind, count, fingerprint) and totals. No clear values."""
    if not hits:
        return "leak scan: no clear personal data or key material found\n"
    places = len({h.where for h in hits})
    by_kind = Counter[str]()
    for hit in hits:
        by_kind[hit.kind] += hit.count
    totals = ", ".join(f"{kind} {by_kind[kind]:,}" for kind in KINDS if by_kind[kind])
    width = max(len(h.where) for h in hits)
    lines = [
        f"leak scan: {len(hits)} hit(s) in {places} place(s): clear data where only the system account may see it",
        f"occurrences: {totals}",
        "",
        f"{'where':<{width}}  {'kind':<12}  {'count':>9}  fingerprint",
    ]
    lines += [f"{h.where:<{width}}  {h.kind:<12}  {h.count:>9,}  {h.fingerprint}" for h in sort_hits(hits)]
    lines += ["", "fingerprints are keyed for this report only: equal fingerprints are the same value"]
    return "\n".join(lines) + "\n"
