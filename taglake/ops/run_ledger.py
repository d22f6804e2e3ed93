"""The daily run's ledger of raw files: which landing partitions changed since the last successful run.

A daily run re-reads a lookback of landing partitions (var `late_arrival_lookback_days`) because a file may land
late in a partition already read. Most days none does, so on a local target the runner lists, before the build,
the files of each raw table's partitions in the lookback (name, size, modification time) and compares them with
the listing of the last run whose build passed (the ledger, a table in the run's own DuckDB file). The ledger keeps
no file name: a producer may put anything in one, a national ID included (macros/engines/source_file.sql keeps
only names in the declared form). It keeps, per partition, the number of files and a SHA-256 fingerprint of their
names, sizes and nanosecond modification times, which tells a changed partition from an unchanged one and cannot
be searched for a name without its exact size and modification time. The earliest
landing date whose files are new, changed or gone is what that raw table needs read again; nothing when none
changed. Each incremental model gets the earliest such date over the raw tables upstream of it (dbt's manifest),
passed to the build in TAGLAKE_RUN_CHANGES; macros/incremental/landing_window.sql (window_from_newest) starts the
model's window there when it is later than the lookback, never later than the day after the newest it holds.

The ledger is written only after a build that passed, with the listing made before it: a failed or killed run
leaves the older ledger, so the next run's window is wider, never narrower. No ledger, a ledger that did not list
a raw table from the lookback's first day, or anything unreadable: the lookback rule, as without the ledger. The
AWS targets, `taglake run-window` and a `dbt build` run by hand always use the lookback rule.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from taglake.core.artifacts import ArtifactError, read_raw
from taglake.core.project import Project
from taglake.core.sources import SourceTable, project_var, source_tables
from taglake.privacy.dbt_runner import local_database

LEDGER_SCHEMA = "run_ledger"
PARTITIONS_TABLE = f"{LEDGER_SCHEMA}.raw_partitions"  # each raw partition's files when the run started: a fingerprint
LISTED_TABLE = f"{LEDGER_SCHEMA}.listed_from"  # per raw table, the first landing date that listing covered

_PARTITION = re.compile(r"year=(\d{4})/month=(\d{1,2})/day=(\d{1,2})$")


@dataclass(frozen=True)
class RawFile:
    table: str  # source.table
    landing_date: date
    path: str  # under the table's folder: year=…/month=…/day=…/name
    size: int
    modified_ns: int


@dataclass(frozen=True)
class Partition:
    """A raw table's landing partition as the ledger keeps it: how many files, and their fingerprint."""

    table: str
    landing_date: date
    files: int
    fingerprint: str  # SHA-256 over each file's name, size and modification time (ns), in name order


@dataclass(frozen=True)
class Listing:
    """The raw files of each table's partitions from `since` on, as a run found them before its build."""

    since: date
    tables: tuple[str, ...]
    files: frozenset[RawFile]

    def partitions(self) -> set[Partition]:
        grouped: dict[tuple[str, date], list[RawFile]] = {}
        for file in self.files:
            grouped.setdefault((file.table, file.landing_date), []).append(file)
        found = set()
        for (table, landing), files in grouped.items():
            digest = hashlib.sha256()
            for file in sorted(files, key=lambda f: f.path):
                digest.update(f"{file.path}\0{file.size}\0{file.modified_ns}\n".encode())
            found.add(Partition(table, landing, len(files), digest.hexdigest()))
        return found


def _partition_date(folder: Path) -> date | None:
    match = _PARTITION.search(folder.as_posix())
    if match is None:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def list_raw_files(lake_dir: Path, tables: Mapping[str, SourceTable], since: date) -> Listing:
    """Every file of every raw table's landing partitions on or after `since`, under `lake_dir`/raw. Only the
    tables whose folder is there are listed: a table not listed is never taken as unchanged (a lake that is not a
    local folder, a table not delivered yet: the lookback rule)."""
    found: set[RawFile] = set()
    listed: list[str] = []
    for name, table in sorted(tables.items()):
        root = table.folder(lake_dir)
        if not root.is_dir():
            continue
        listed.append(name)
        for day_dir in root.glob("year=*/month=*/day=*"):
            landing = _partition_date(day_dir)
            if landing is None or landing < since or not day_dir.is_dir():
                continue
            for file in day_dir.iterdir():
                if file.is_file():
                    stat = file.stat()
                    relative = file.relative_to(root).as_posix()
                    found.add(RawFile(name, landing, relative, stat.st_size, stat.st_mtime_ns))
    return Listing(since, tuple(listed), frozenset(found))


def read_ledger(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, date], set[Partition]]:
    """The last successful run's listing: per raw table the first date it covered, and its partitions (none:
    empty)."""
    present = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name in (?, ?)",
        [LEDGER_SCHEMA, PARTITIONS_TABLE.split(".")[1], LISTED_TABLE.split(".")[1]],
    ).fetchone()
    if not present or present[0] != 2:
        return {}, set()
    listed = {name: since for name, since in con.execute(f"select source_table, since from {LISTED_TABLE}").fetchall()}
    rows = con.execute(f"select source_table, landing_date, files, fingerprint from {PARTITIONS_TABLE}").fetchall()
    return listed, {Partition(*row) for row in rows}


def changed_from(listing: Listing, listed: Mapping[str, date], ledger: Iterable[Partition]) -> dict[str, date | None]:
    """Per raw table, the earliest landing date on or after `listing.since` whose files differ from the ledger's
    (new, changed or gone); None when none does; `listing.since` itself when the ledger did not list the table from
    that day on (no ledger, a new table): the lookback rule."""
    recorded = {p for p in ledger if p.landing_date >= listing.since}
    differing = listing.partitions() ^ recorded
    changes: dict[str, date | None] = {}
    for table in listing.tables:
        if table not in listed or listed[table] > listing.since:
            changes[table] = listing.since
            continue
        changes[table] = min((p.landing_date for p in differing if p.table == table), default=None)
    return changes


def upstream_raw_tables(manifest_path: Path, models: Iterable[str], raw_tables: Iterable[str]) -> dict[str, set[str]]:
    """Per model name, the raw tables (`source.table`) upstream of it in dbt's manifest.json; a model the manifest
    does not hold is left out."""
    raw = set(raw_tables)
    try:
        nodes = read_raw(manifest_path, "manifest", 12, "dbt parse").get("nodes", {})
    except ArtifactError:
        return {}
    by_name = {node["name"]: uid for uid, node in nodes.items() if node.get("resource_type") == "model"}
    memo: dict[str, set[str]] = {}

    def walk(uid: str) -> set[str]:
        if uid in memo:
            return memo[uid]
        memo[uid] = set()  # a cycle (none in a dbt graph) ends here
        found: set[str] = set()
        if uid.startswith("source."):
            name = ".".join(uid.split(".")[-2:])
            found = {name} if name in raw else set()
        else:
            for parent in nodes.get(uid, {}).get("depends_on", {}).get("nodes", []):
                found |= walk(parent)
        memo[uid] = found
        return found

    return {name: walk(by_name[name]) for name in models if name in by_name}


def model_changes(upstream: Mapping[str, set[str]], changes: Mapping[str, date | None]) -> dict[str, date | None]:
    """Per model with raw tables upstream, the earliest changed landing date over them (None: none changed)."""
    result: dict[str, date | None] = {}
    for model, tables in sorted(upstream.items()):
        if not tables or any(t not in changes for t in tables):
            continue
        dates = [changes[t] for t in tables if changes[t] is not None]
        result[model] = min(dates, default=None)
    return result


def lookback_start(landings: Mapping[str, date], lookback_days: int) -> date | None:
    """The first landing date a daily run's lookback covers: the newest landing any model holds minus the lookback
    (as window_from_newest anchors it); none without a window."""
    return max(landings.values()) - timedelta(days=lookback_days) if landings else None


def write_ledger(db: Path, listing: Listing) -> None:
    """Replace the ledger in `db` with `listing` (one transaction): after a build that passed."""
    with duckdb.connect(str(db)) as con:
        con.execute("begin")
        con.execute(f"create schema if not exists {LEDGER_SCHEMA}")
        con.execute(
            f"create or replace table {PARTITIONS_TABLE} (source_table varchar, landing_date date, files integer,"
            " fingerprint varchar)"
        )
        con.execute(f"create or replace table {LISTED_TABLE} (source_table varchar, since date)")
        rows = sorted(listing.partitions(), key=lambda p: (p.table, p.landing_date))
        if rows:
            con.executemany(
                f"insert into {PARTITIONS_TABLE} values (?, ?, ?, ?)",
                [(p.table, p.landing_date, p.files, p.fingerprint) for p in rows],
            )
        if listing.tables:
            con.executemany(f"insert into {LISTED_TABLE} values (?, ?)", [(t, listing.since) for t in listing.tables])
        con.execute("commit")


@dataclass(frozen=True)
class LedgerPlan:
    """What the ledger gives a daily run: the listing to record once its build passed (None: nothing to record, not
    a local target), and per incremental model the earliest changed landing date (empty: the lookback rule)."""

    listing: Listing | None
    changes: dict[str, date | None]


def plan_run(
    lake_dir: Path,
    db: Path,
    manifest_path: Path,
    tables: Mapping[str, SourceTable],
    landings: Mapping[str, date],
    lookback_days: int,
) -> LedgerPlan:
    """List the raw files before a local daily build and compare them with the ledger in `db`. Without a window
    (`landings` empty: a first build or a full refresh) every partition is listed, for the next run to compare
    with, and nothing is narrowed."""
    since = lookback_start(landings, lookback_days) or date.min
    listing = list_raw_files(lake_dir, tables, since)
    if not landings or not db.is_file():
        return LedgerPlan(listing, {})
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            listed, recorded = read_ledger(con)
    except duckdb.Error:
        return LedgerPlan(listing, {})
    if not listed:
        return LedgerPlan(listing, {})
    upstream = upstream_raw_tables(manifest_path, landings, tables)
    return LedgerPlan(listing, model_changes(upstream, changed_from(listing, listed, recorded)))


def plan_daily(project: Project, target: str | None, landings: Mapping[str, date]) -> LedgerPlan:
    """plan_run for a local daily run of `project` on `target` (its database, manifest, raw tables and lookback)."""
    return plan_run(
        project.lake_dir,
        local_database(project, target),
        project.target_path / "manifest.json",
        source_tables(project.root),
        landings,
        int(project_var("late_arrival_lookback_days", project.root)),
    )


# dbt arguments that build part of the project: a partial build that passed did not bring every model up to the
# files it listed, so it records no ledger (the next run compares with the older one: a wider window)
SELECTION_FLAGS = (
    "--select",
    "-s",
    "--models",
    "-m",
    "--exclude",
    "--selector",
    "--resource-type",
    "--resource-types",
    "--exclude-resource-type",
    "--exclude-resource-types",
    "--inline",
)


def builds_everything(build_args: Iterable[str]) -> bool:
    """Whether `dbt build` with these arguments builds the whole project (no selection of any kind)."""
    return not any(arg == flag or arg.startswith(flag + "=") for arg in build_args for flag in SELECTION_FLAGS)


def record_ledger(project: Project, target: str | None, plan: LedgerPlan) -> bool:
    """After a build of the whole project that passed: the plan's listing becomes the ledger (False: it could not
    be written)."""
    if plan.listing is None:
        return True
    try:
        write_ledger(local_database(project, target), plan.listing)
    except duckdb.Error:
        return False
    return True
