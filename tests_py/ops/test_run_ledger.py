"""The daily run's ledger of raw files (taglake.ops.run_ledger): which landing partitions changed since the last
run that passed, per raw table and per model. Plain files and a DuckDB file; the daily runs that use it are in
test_daily_runs.py."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

from taglake.core.project import Project
from taglake.core.sources import source_tables
from taglake.ops.run_ledger import (
    PARTITIONS_TABLE,
    Listing,
    builds_everything,
    changed_from,
    list_raw_files,
    model_changes,
    plan_run,
    read_ledger,
    upstream_raw_tables,
    write_ledger,
)

TABLES = source_tables()
CARDS, CRM = "cards.transactions", "crm.customers"


def _land(lake: Path, table: str, day: date, name: str, text: str = "x\n") -> Path:
    folder = TABLES[table].folder(lake) / f"year={day.year}" / f"month={day.month:02d}"
    path = folder / f"day={day.day:02d}" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    for day in (1, 2, 3, 4):
        _land(root, CARDS, date(2026, 11, day), f"transactions_202611{day:02d}.parquet")
        _land(root, CRM, date(2026, 11, day), f"customers_202611{day:02d}.csv")
    return root


@pytest.fixture
def dbt_manifest_path(built_project: Project) -> Path:
    return built_project.target_path / "manifest.json"


def _recorded(tmp_path: Path, listing: Listing) -> tuple[dict[str, date], set]:
    db = tmp_path / "ledger.duckdb"
    write_ledger(db, listing)
    with duckdb.connect(str(db), read_only=True) as con:
        return read_ledger(con)


def test_the_listing_holds_the_partitions_from_the_lookback_on_and_round_trips_through_the_ledger(
    lake: Path, tmp_path: Path
) -> None:
    listing = list_raw_files(lake, TABLES, date(2026, 11, 2))
    assert {(f.table, f.landing_date.day) for f in listing.files} == {(t, d) for t in (CARDS, CRM) for d in (2, 3, 4)}
    # every raw table whose folder is there is listed, with or without files in the window
    assert set(listing.tables) == {CARDS, CRM}
    listed, files = _recorded(tmp_path, listing)
    assert files == listing.partitions() and listed == dict.fromkeys((CARDS, CRM), date(2026, 11, 2))
    # written again, the ledger is replaced, not appended to
    write_ledger(tmp_path / "ledger.duckdb", list_raw_files(lake, TABLES, date(2026, 11, 4)))
    with duckdb.connect(str(tmp_path / "ledger.duckdb"), read_only=True) as con:
        assert con.execute(f"select count(*) from {PARTITIONS_TABLE}").fetchone() == (2,)


def test_the_ledger_keeps_no_file_name(lake: Path, tmp_path: Path) -> None:
    # a producer may put anything in a file name, a national ID included: the ledger keeps a fingerprint instead
    _land(lake, CRM, date(2026, 11, 4), "A123456789.csv")
    listing = list_raw_files(lake, TABLES, date(2026, 11, 1))
    db = tmp_path / "ledger.duckdb"
    write_ledger(db, listing)
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
        text = " ".join(str(con.execute(f'select * from "{s}"."{t}"').fetchall()) for s, t in tables)
    assert "A123456789" not in text and "customers_20261104" not in text
    assert ("crm.customers", date(2026, 11, 4), 2) in {(p.table, p.landing_date, p.files) for p in listing.partitions()}


def test_no_file_changed_nothing_is_read_again(lake: Path, tmp_path: Path) -> None:
    before = list_raw_files(lake, TABLES, date(2026, 11, 1))
    listed, files = _recorded(tmp_path, before)
    changes = changed_from(list_raw_files(lake, TABLES, date(2026, 11, 2)), listed, files)
    assert changes == dict.fromkeys((CARDS, CRM), None)


@pytest.mark.parametrize(
    "change",
    [
        "a new partition",
        "a late file in a partition already read",
        "a file rewritten with a new size",
        "a file touched with the same size",
        "a file gone",
    ],
)
def test_each_kind_of_change_reads_its_table_again_from_the_partition_it_changed(
    change: str, lake: Path, tmp_path: Path
) -> None:
    listed, files = _recorded(tmp_path, list_raw_files(lake, TABLES, date(2026, 11, 1)))
    crm_day3 = TABLES[CRM].folder(lake) / "year=2026" / "month=11" / "day=03" / "customers_20261103.csv"
    expected = date(2026, 11, 3)
    if change == "a new partition":
        _land(lake, CRM, date(2026, 11, 5), "customers_20261105.csv")
        expected = date(2026, 11, 5)
    elif change == "a late file in a partition already read":
        _land(lake, CRM, expected, "customers_20261103_late.csv")
    elif change == "a file rewritten with a new size":
        crm_day3.write_text("x\ny\n", encoding="utf-8")
    elif change == "a file touched with the same size":
        stat = crm_day3.stat()
        os.utime(crm_day3, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    else:
        crm_day3.unlink()
    changes = changed_from(list_raw_files(lake, TABLES, date(2026, 11, 2)), listed, files)
    assert changes[CRM] == expected and changes[CARDS] is None


def test_a_change_before_the_lookback_or_a_table_the_ledger_did_not_list_keeps_the_lookback_rule(
    lake: Path, tmp_path: Path
) -> None:
    # a ledger listed from the 3rd cannot tell what changed on the 2nd: the whole lookback is read
    listed, files = _recorded(tmp_path, list_raw_files(lake, TABLES, date(2026, 11, 3)))
    changes = changed_from(list_raw_files(lake, TABLES, date(2026, 11, 2)), listed, files)
    assert changes == dict.fromkeys((CARDS, CRM), date(2026, 11, 2))
    # a raw table the ledger never listed (a new source) likewise
    del listed[CRM]
    changes = changed_from(list_raw_files(lake, TABLES, date(2026, 11, 3)), listed, files)
    assert changes[CRM] == date(2026, 11, 3) and changes[CARDS] is None
    # a file changed before the lookback's first day is not the daily run's business (as without a ledger)
    (TABLES[CARDS].folder(lake) / "year=2026" / "month=11" / "day=01").rename(lake / "moved")
    changes = changed_from(list_raw_files(lake, TABLES, date(2026, 11, 3)), listed, files)
    assert changes[CARDS] is None


@pytest.mark.dbt
def test_a_model_reads_again_from_the_earliest_change_upstream_of_it(dbt_manifest_path: Path) -> None:
    upstream = upstream_raw_tables(
        dbt_manifest_path, ["base_cards__transactions", "int_customer_lifecycle_dated", "nope"], TABLES
    )
    assert upstream["base_cards__transactions"] == {CARDS}
    assert {CARDS, CRM, "digital.app_events"} <= upstream["int_customer_lifecycle_dated"]
    assert "nope" not in upstream
    changes = dict.fromkeys(TABLES, None) | {CRM: date(2026, 11, 3), CARDS: date(2026, 11, 4)}
    models = model_changes(upstream, changes)
    assert models == {"base_cards__transactions": date(2026, 11, 4), "int_customer_lifecycle_dated": date(2026, 11, 3)}
    assert model_changes(upstream, dict.fromkeys(TABLES, None))["int_customer_lifecycle_dated"] is None
    # a raw table the comparison does not know leaves the model to the lookback rule (not named)
    assert model_changes(upstream, {CARDS: None}) == {"base_cards__transactions": None}


@pytest.mark.dbt
def test_without_a_window_or_a_ledger_nothing_is_narrowed_but_the_listing_is_made(
    lake: Path, tmp_path: Path, dbt_manifest_path: Path
) -> None:
    db = tmp_path / "build.duckdb"
    duckdb.connect(str(db)).close()
    landings = {"base_cards__transactions": date(2026, 11, 4)}
    first = plan_run(lake, db, dbt_manifest_path, TABLES, {}, 3)
    assert first.changes == {} and first.listing is not None and first.listing.since == date.min
    assert plan_run(lake, db, dbt_manifest_path, TABLES, landings, 3).changes == {}  # no ledger in the database
    write_ledger(db, first.listing)
    _land(lake, CARDS, date(2026, 11, 5), "transactions_20261105.parquet")
    planned = plan_run(lake, db, dbt_manifest_path, TABLES, landings, 3)
    assert planned.listing is not None and planned.listing.since == date(2026, 11, 1)
    assert planned.changes == {"base_cards__transactions": date(2026, 11, 5)}
    assert json.dumps(planned.changes, default=str) == '{"base_cards__transactions": "2026-11-05"}'


def test_a_table_whose_folder_is_not_there_is_never_taken_as_unchanged(lake: Path, tmp_path: Path) -> None:
    # a lake that is not a local folder (or a table not delivered yet) lists nothing, before and after: that must
    # not read as "nothing changed", which would leave the day's files unread
    listed, files = _recorded(tmp_path, list_raw_files(tmp_path / "elsewhere", TABLES, date(2026, 11, 1)))
    assert listed == {} and files == set()
    later = list_raw_files(tmp_path / "elsewhere", TABLES, date(2026, 11, 2))
    assert later.tables == () and changed_from(later, listed, files) == {}
    upstream = {"base_cards__transactions": {CARDS}}
    assert model_changes(upstream, changed_from(later, listed, files)) == {}  # not named: the lookback rule
    # a table that appears later is read by the lookback rule until a ledger has listed it
    changes = changed_from(list_raw_files(lake, TABLES, date(2026, 11, 2)), listed, files)
    assert changes == dict.fromkeys((CARDS, CRM), date(2026, 11, 2))


def test_only_a_build_of_the_whole_project_records_the_ledger() -> None:
    assert builds_everything([]) and builds_everything(["--full-refresh", "--vars", "{a: 1}", "--threads", "2"])
    for args in (["--select", "fct_app_events"], ["-s", "x"], ["--exclude=y"], ["-m", "x"], ["--selector", "daily"]):
        assert not builds_everything(args), args
    assert not builds_everything(["--exclude-resource-type", "test"])
