"""Leak scanner: find clear personal data or key material where nobody but the system account may see it.

The canaries are the clear values themselves, read from the raw zone (`collect_canaries`) and the key file
(`key_canaries`). A scan looks for them in a DuckDB build (`scan_duckdb`: every text column of every table and
view) and in files (`scan_files`: dbt's target/ and logs/, exports). Hits name the place and the kind of data,
never the value: at most a fingerprint valid within one report (see Hit). The matching rules per kind are in
taglake.privacy.scan.match.

A scan that would look at nothing is refused (NothingToScan), never reported clean: a lake without a raw zone or
without one personal value, a key file that cannot be read, a database that is missing, unreadable or holds no
text column, a folder that does not exist. `taglake scan-pii` exits EXIT_NOTHING_SCANNED then, not 0 and not
EXIT_HITS.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import duckdb

from taglake.core.project import Project
from taglake.privacy.scan.canaries import CANARY_CLASSES, CanaryReadError, collect_canaries, key_canaries, pii_fields
from taglake.privacy.scan.db import ScanError, scan_duckdb
from taglake.privacy.scan.files import scan_files
from taglake.privacy.scan.match import KINDS, Hit, new_salt, prepare, sort_hits

__all__ = [
    "EXIT_CLEAN",
    "EXIT_HITS",
    "EXIT_NOTHING_SCANNED",
    "KINDS",
    "CanaryReadError",
    "Hit",
    "NothingToScan",
    "ScanError",
    "collect_canaries",
    "format_report",
    "key_canaries",
    "pii_fields",
    "scan",
    "scan_duckdb",
    "scan_files",
]

EXIT_CLEAN = 0  # every place was scanned and nothing was found
EXIT_HITS = 1  # clear personal data or key material found
EXIT_NOTHING_SCANNED = 2  # refused: nothing (or not everything asked for) could be scanned, so no verdict


class NothingToScan(RuntimeError):
    """The scan would have looked at nothing (or at less than asked): refused so it is never reported clean."""


def _check_lake(lake_dir: Path) -> None:
    if not (lake_dir / "raw").is_dir():
        raise NothingToScan(
            f"{lake_dir}: no raw/ folder, so no clear values to look for; pass --lake with the lake the build read"
        )


def _check_db(db_path: Path) -> None:
    if not db_path.is_file():
        raise NothingToScan(f"{db_path}: no database there; build first or pass --db with the build to scan")
    try:
        with duckdb.connect(str(db_path), read_only=True) as con:
            (text_columns,) = con.execute(
                "select count(*) from duckdb_columns() where database_name = current_database() and not internal "
                "and (data_type like '%VARCHAR%' or data_type like '%JSON%' or data_type like '%BLOB%')"
            ).fetchone()
    except duckdb.Error as exc:
        raise NothingToScan(f"{db_path}: not a readable DuckDB database ({type(exc).__name__})") from None
    if not text_columns:
        raise NothingToScan(f"{db_path}: the database holds no relation with a text column: nothing to scan")


def _check_folders(folders: Sequence[Path]) -> None:
    for folder in folders:
        if not folder.exists():
            raise NothingToScan(f"{folder}: no such folder or file to scan")
        if not folder.is_dir() and not folder.is_file():
            raise NothingToScan(f"{folder}: not a folder or a file")


def scan(
    lake_dir: Path | None,
    *,
    db_path: Path | None,
    folders: Sequence[Path],
    key_file: Path | None,
    limit_per_kind: int | None = None,
) -> list[Hit]:
    """Every hit of the raw zone's personal data (and the key file's key material) in the build and the folders.

    Raises NothingToScan, before any matching, when a place to scan or the canaries are missing (see the module).

    One salt serves the whole scan, so a value has the same fingerprint in a relation and in a file. The raw zone
    and the key file are never scanned themselves, even when they lie under one of the folders.
    """
    if lake_dir is not None:
        _check_lake(lake_dir)
    if db_path is not None:
        _check_db(db_path)
    _check_folders(folders)
    if db_path is None and not folders:
        raise NothingToScan("neither a database nor a folder to scan")
    canaries: dict[str, set[str]] = collect_canaries(lake_dir, limit_per_kind=limit_per_kind) if lake_dir else {}
    if lake_dir is not None and not any(canaries.get(cls) for cls in CANARY_CLASSES):
        raise NothingToScan(f"{lake_dir / 'raw'}: no personal values found to look for (no canaries): nothing to scan")
    if key_file is not None:
        try:
            canaries["key_material"] = key_canaries(key_file)
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise NothingToScan(
                f"{key_file}: the key file cannot be read ({type(exc).__name__}); pass --key-file with the key the "
                "build used"
            ) from None
    if not any(canaries.values()):
        raise NothingToScan("no canaries: pass --lake (and --key-file) to say what to look for")
    prepared = prepare(canaries)
    salt = new_salt()
    hits = scan_duckdb(db_path, prepared, salt=salt) if db_path is not None else []
    exclude = [p for p in (key_file, lake_dir / "raw" if lake_dir else None) if p is not None]
    hits += scan_files(folders, prepared, exclude=exclude, salt=salt)
    return sort_hits(hits)


def default_folders(project: Project) -> list[Path]:
    """The folders a scan looks in when none is named: dbt's target/ and logs/ of the project, those that exist."""
    return [p for p in (project.target_path, project.log_path) if p.is_dir()]


def scan_project(project: Project) -> list[Hit]:
    """The default scan of a project (scan-pii without options, run-daily, the demo): its lake's personal values and
    its key's material, looked for in its build and default_folders()."""
    return scan(
        project.lake_dir, db_path=project.duckdb_path, folders=default_folders(project), key_file=project.key_file
    )


def format_report(hits: list[Hit], *, fingerprints: bool = True) -> str:
    """A report for people: one line per hit (place, kind, count, fingerprint) and totals. No clear values.
    `fingerprints=False` for a scan done in the engine (taglake.privacy.scan.engines), whose hits carry none."""
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
    lines += [
        "",
        "fingerprints are keyed for this report only: equal fingerprints are the same value"
        if fingerprints
        else "found in the engine: counts only, no value and no fingerprint ever left it",
    ]
    return "\n".join(lines) + "\n"
