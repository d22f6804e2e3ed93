"""Generate the deterministic synthetic raw zone (see docs/raw-zone.md).

Everything is computed in DuckDB SQL from seeded hashes: the same arguments give byte-identical files.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
from tqdm import tqdm

from taglake import __version__
from taglake.lake.feeds.accounts import AccountsGen
from taglake.lake.feeds.app_events import AppEventsGen
from taglake.lake.feeds.customers import CustomersGen
from taglake.lake.feeds.model_outcomes import ModelOutcomesGen
from taglake.lake.feeds.model_scores import ModelScoresGen
from taglake.lake.population import create_population
from taglake.lake.feeds.table_gen import TableGen
from taglake.lake.feeds.transactions import TransactionsGen
from taglake.lake.params import LakeParams
from taglake.lake.raw_tables import ACCEPTED_KINDS, quarantine_kinds, WALLET_COLUMN

MANIFEST_NAME = "manifest.json"
RAW_DIR = "raw"


@dataclass(frozen=True)
class ScaleSpec:
    customers: int
    days: int
    transactions_about: int  # card transactions the scale yields, roughly


SCALES: dict[str, ScaleSpec] = {
    "small": ScaleSpec(customers=2_000, days=40, transactions_about=12_700),
    "medium": ScaleSpec(customers=100_000, days=90, transactions_about=1_230_000),
    "large": ScaleSpec(customers=1_000_000, days=365, transactions_about=45_000_000),
}


def generators() -> tuple[TableGen, ...]:
    return (CustomersGen(), AccountsGen(), TransactionsGen(), AppEventsGen(), ModelScoresGen(), ModelOutcomesGen())


@dataclass
class TableTally:
    """What was written for one table, summed over partitions."""

    files: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # 'clean', 'same_day_version', defect kinds
    first_keys: int = 0  # keys that appeared for the first time: the accepted records

    def add(self, counts: dict[str, int], first_keys: int) -> None:
        self.files += 1
        for kind, n in counts.items():
            self.by_kind[kind] = self.by_kind.get(kind, 0) + n
        self.first_keys += first_keys


def resolve_params(
    *,
    scale: str,
    customers: int | None,
    days: int | None,
    seed: int,
    end_date: date,
    defect_rate: float,
) -> LakeParams:
    """Validate the arguments and apply the scale's defaults; bad values raise ValueError."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: choose one of {', '.join(SCALES)}")
    if isinstance(end_date, datetime) or not isinstance(end_date, date):
        raise ValueError(f"end_date must be a date (not a datetime), got {end_date!r}")
    spec = SCALES[scale]
    return LakeParams(
        seed=seed,
        customers=spec.customers if customers is None else customers,
        days=spec.days if days is None else days,
        end_date=end_date,
        defect_rate=defect_rate,
    )


DayResult = dict[str, tuple[dict[str, int], int]]  # per table: (records per kind, keys new that day)

PARALLEL_MIN_CUSTOMER_DAYS = 5_000_000  # below this, one process is quicker than starting workers
MAX_WORKERS = 4
CHUNKS_PER_WORKER = 4


class LakeWriter:
    """Writes landing days' partitions into ``out_dir`` for fixed parameters, on its own DuckDB connection.

    A day's files depend only on the parameters and the day: ``write_day`` rebuilds whatever earlier days'
    records it needs (a duplicate may land up to two days after its original) when they are not in memory, so
    any day, or run of days, can be written alone.
    """

    def __init__(self, params: LakeParams, out_dir: Path, *, threads: int | None = None) -> None:
        # Every file is written with an explicit total ORDER BY; intermediate tables need no insertion order.
        config: dict[str, object] = {"preserve_insertion_order": False}
        if threads:
            config["threads"] = threads
        self.con = duckdb.connect(":memory:", config=config)
        self.con.execute("set enable_progress_bar = false")
        self.params, self.out_dir = params, out_dir
        self.gens = generators()
        self._built: set[tuple[TableGen, int]] = set()
        create_population(self.con, params)

    def close(self) -> None:
        self.con.close()

    def _clean(self, gen: TableGen, day: int) -> None:
        if (gen, day) not in self._built:
            gen.build_clean(self.con, self.params, day)
            self._built.add((gen, day))

    def _forget(self, gen: TableGen, day: int) -> None:
        gen.drop_clean(self.con, day)
        self._built.discard((gen, day))

    def write_day(self, day: int) -> DayResult:
        """Write every table's partition for day index ``day``."""
        out: DayResult = {}
        for gen in self.gens:
            if not gen.has_partition(self.params, day):
                continue
            for lag in range(gen.max_dup_lag, -1, -1):
                if day - lag >= 0:
                    self._clean(gen, day - lag)
            gen.write_day(self.con, self.params, day, self.out_dir)
            out[gen.spec.name] = gen.day_counts(self.con, self.params, day)
            if day - gen.max_dup_lag >= 0:
                self._forget(gen, day - gen.max_dup_lag)
        return out

    def write_days(self, start: int, stop: int) -> list[tuple[int, DayResult]]:
        """Write days ``start`` … ``stop - 1``, dropping earlier days' records this run will not need."""
        for gen, day in list(self._built):
            if not start - gen.max_dup_lag <= day < start:
                self._forget(gen, day)
        return [(day, self.write_day(day)) for day in range(start, stop)]


def worker_count(params: LakeParams) -> int:
    """Processes to write with: one per core (up to MAX_WORKERS) for big lakes, else one."""
    if params.customers * params.days < PARALLEL_MIN_CUSTOMER_DAYS or params.days < 2:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS, params.days))


def day_chunks(days: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous runs of days, a few per worker so that the heavy days spread out."""
    size = max(1, -(-days // (workers * CHUNKS_PER_WORKER)))
    return [(start, min(start + size, days)) for start in range(0, days, size)]


# A worker process's writer, made once by _init_worker and reused for each run of days it is given.
_worker_writer: LakeWriter | None = None


def _init_worker(params: LakeParams, out_dir: Path, threads: int) -> None:
    global _worker_writer
    _worker_writer = LakeWriter(params, out_dir, threads=threads)


def _write_chunk(start: int, stop: int) -> list[tuple[int, DayResult]]:
    assert _worker_writer is not None
    return _worker_writer.write_days(start, stop)


def write_all_days(params: LakeParams, out_dir: Path, *, progress: bool) -> dict[str, TableTally]:
    """Write every landing day, in one process or spread over worker processes; return the tallies."""
    tallies = {gen.spec.name: TableTally() for gen in generators()}

    def tally(results: list[tuple[int, DayResult]]) -> None:
        for _, result in results:
            for name, (counts, first) in result.items():
                tallies[name].add(counts, first)

    workers = worker_count(params)
    with tqdm(total=params.days, desc="taglake generate", unit="day", file=sys.stderr, disable=not progress) as bar:
        if workers == 1:
            writer = LakeWriter(params, out_dir)
            try:
                for day in range(params.days):
                    tally([(day, writer.write_day(day))])
                    bar.update(1)
            finally:
                writer.close()
        else:
            # fork where the platform has it: a spawned child would re-run an unguarded calling script
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            threads = max(1, (os.cpu_count() or 1) // workers)
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=_init_worker, initargs=(params, out_dir, threads)
            ) as pool:
                futures = [pool.submit(_write_chunk, a, b) for a, b in day_chunks(params.days, workers)]
                for future in as_completed(futures):
                    results = future.result()
                    tally(results)
                    bar.update(len(results))
    return tallies


def generate_lake(
    out_dir: Path,
    *,
    scale: str = "small",
    customers: int | None = None,
    days: int | None = None,
    seed: int = 42,
    end_date: date = date(2026, 10, 31),
    defect_rate: float = 0.01,
    progress: bool = True,
) -> dict:
    """Write the raw zone under ``out_dir/raw`` and ``out_dir/manifest.json``; return the manifest.

    Only ``out_dir/raw`` and ``out_dir/manifest.json`` are replaced; nothing else in ``out_dir`` is touched.
    Big lakes are written by one worker process per core; the files are the same either way.
    """
    params = resolve_params(
        scale=scale, customers=customers, days=days, seed=seed, end_date=end_date, defect_rate=defect_rate
    )
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"out_dir is not a directory: {out_dir}")
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / RAW_DIR
    if raw.is_dir() and not raw.is_symlink():
        shutil.rmtree(raw)
    else:
        raw.unlink(missing_ok=True)
    (out_dir / MANIFEST_NAME).unlink(missing_ok=True)

    tallies = write_all_days(params, out_dir, progress=progress)
    manifest = build_manifest(params, scale, tallies)
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (out_dir / MANIFEST_NAME).write_text(text, encoding="utf-8")
    return manifest


def build_manifest(params: LakeParams, scale: str, tallies: dict[str, TableTally]) -> dict:
    return {
        "generator": "taglake",
        "generator_version": __version__,
        "engine": f"duckdb {duckdb.__version__}",
        "seed": params.seed,
        "scale": scale,
        "params": manifest_params(params),
        "tables": table_entries(tallies),
        "schema_changes": [
            {
                "table": TransactionsGen.table_name,
                "column": WALLET_COLUMN,
                "first_partition": params.date_of(params.schema_change_day).isoformat(),
            }
        ],
    }


def manifest_params(params: LakeParams) -> dict:
    """The manifest's `params`: the planned history, and the days appended after it."""
    return {
        "customers": params.customers,
        "days": params.days,
        "start_date": params.start_date.isoformat(),
        "end_date": params.end_date.isoformat(),
        "defect_rate": params.defect_rate,
        "appended_days": params.appended_days,
        "last_date": params.last_date.isoformat(),
    }


def table_entries(tallies: dict[str, TableTally]) -> dict[str, dict]:
    """Per table: files, rows, defects by kind and the expected accepted/collapsed/quarantined, from tallies."""
    tables: dict[str, dict] = {}
    for gen in generators():
        spec, tally = gen.spec, tallies[gen.spec.name]
        kinds = tally.by_kind
        rows = sum(kinds.values())
        accepted = tally.first_keys
        originals = kinds.get("clean", 0) + kinds.get("same_day_version", 0) + kinds.get("late_arrival", 0)
        defects: dict[str, int] = {}
        for kind in spec.defect_kinds:
            if kind == "newer_version":
                defects[kind] = originals - accepted
            else:
                defects[kind] = kinds.get(kind, 0)
        quarantined = sum(n for k, n in defects.items() if k in quarantine_kinds())
        collapsed = sum(n for k, n in defects.items() if k not in quarantine_kinds() and k not in ACCEPTED_KINDS)
        if rows != accepted + collapsed + quarantined:  # pragma: no cover - a generator bug
            raise AssertionError(f"{spec.name}: {rows} rows != {accepted} + {collapsed} + {quarantined}")
        tables[spec.name] = {
            "format": spec.format,
            "files": tally.files,
            "rows": rows,
            "defects": defects,
            "expected": {"accepted": accepted, "collapsed": collapsed, "quarantined": quarantined},
        }
    return tables


def params_from_manifest(manifest: dict) -> LakeParams:
    """The parameters a lake was generated (and appended) with, read back from its manifest."""
    given = manifest["params"]
    return LakeParams(
        seed=int(manifest["seed"]),
        customers=int(given["customers"]),
        days=int(given["days"]),
        end_date=date.fromisoformat(given["end_date"]),
        defect_rate=float(given["defect_rate"]),
        appended_days=int(given.get("appended_days", 0)),
    )


def add_table_entries(total: dict[str, dict], more: dict[str, dict]) -> None:
    """Add one run of days' per-table counts to a manifest's (every count is a sum over partitions)."""
    for name, entry in more.items():
        into = total[name]
        into["files"] += entry["files"]
        into["rows"] += entry["rows"]
        for group in ("defects", "expected"):
            for kind, n in entry[group].items():
                into[group][kind] = into[group].get(kind, 0) + n


def append_days(out_dir: Path, *, count: int = 1, progress: bool = True) -> dict:
    """Write the next ``count`` landing days of the lake in ``out_dir`` and update its manifest; return it.

    The earlier partitions are left as they are (a day's files depend only on the parameters and that day, and
    the appended days never change the planned history's draws). The new days bring new card transactions and
    app events (some for earlier days, landing late), changed, closed and new customers, account changes, and
    model scores when one is the 1st of a month. Appending the same days to the same lake gives the same files.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    out_dir = Path(out_dir).resolve()
    path = out_dir / MANIFEST_NAME
    if not path.is_file():
        raise ValueError(f"no lake to append to: {path} does not exist (run `taglake generate` first)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    before = params_from_manifest(manifest)
    params = LakeParams(
        seed=before.seed,
        customers=before.customers,
        days=before.days,
        end_date=before.end_date,
        defect_rate=before.defect_rate,
        appended_days=before.appended_days + count,
    )
    tallies = {gen.spec.name: TableTally() for gen in generators()}
    writer = LakeWriter(params, out_dir)
    try:
        days = range(before.total_days, params.total_days)
        for day in tqdm(days, desc="taglake generate --append-day", file=sys.stderr, disable=not progress):
            for name, (counts, first) in writer.write_day(day).items():
                tallies[name].add(counts, first)
    finally:
        writer.close()
    add_table_entries(manifest["tables"], table_entries(tallies))
    manifest["params"] = manifest_params(params)
    manifest["generator_version"] = __version__
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return manifest
