"""Feed variants through a real dbt build: the loadable ones load exactly as the plain lake (reconciliation against
the generator's manifest stays exact, no carriage return or byte-order mark survives, JSON parses), and a day of a
daily feed that landed empty is a completeness failure naming the table and the day."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from taglake.ops.local_build import build
from taglake.privacy.dbt_runner import DbtError
from taglake.lake.generate import generate_lake
from taglake.privacy.keys import init_key
from taglake.lake import feed_variants as fv
from taglake.core.project import Project

pytestmark = [pytest.mark.dbt, pytest.mark.redteam]

# crm.customers has header-only (no change) days at this size: a CRLF header-only file among LF ones is the case
# that once failed the whole read.
LAKE = {"customers": 150, "days": 4, "seed": 5, "defect_rate": 0.05}


def _project(work: Path) -> Project:
    return Project.locate(
        lake_dir=work / "lake",
        duckdb_path=work / "taglake.duckdb",
        artifacts_dir=work / "artifacts",
        key_file=work / "secrets" / "masking_keys.csv",
    )


def _query(project: Project, sql: str) -> list[tuple]:
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        return con.sql(sql).fetchall()


@pytest.fixture(scope="module")
def loadable_variants_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = _project(tmp_path_factory.mktemp("feed_variants"))
    generate_lake(project.lake_dir, progress=False, **LAKE)
    init_key(project.key_file)  # `taglake keys init`: nothing else makes a key
    lake = project.lake_dir
    # One day of crm.customers alone in CRLF with a BOM (the others stay LF): a Windows export landing one day.
    one_day = fv.table_files(lake, fv.source_tables()["crm.customers"])[-1][1]
    one_day.write_bytes(fv.BOM + one_day.read_bytes().replace(b"\n", b"\r\n"))
    fv.crlf_line_endings(lake, "core_banking.accounts")
    fv.byte_order_mark(lake, "core_banking.accounts")
    fv.fullwidth_digits(lake, "core_banking.accounts", ["balance_twd", "credit_limit_twd", "opened_date"])
    fv.fullwidth_digits(lake, "digital.app_events", ["event_at"])
    fv.crlf_line_endings(lake, "digital.app_events")
    fv.byte_order_mark(lake, "digital.app_events")
    build(project, target="local")
    yield project


def test_crlf_bom_and_fullwidth_feeds_reconcile_exactly_with_the_manifest(loadable_variants_build: Project) -> None:
    manifest = json.loads((loadable_variants_build.lake_dir / "manifest.json").read_text(encoding="utf-8"))
    assert {v["reconciliation"] for v in manifest["feed_variants"]} == {"exact"}
    rows = _query(loadable_variants_build, "select * from taglake_marts.fct_source_reconciliation")
    found = {table: rest for table, *rest in rows}
    for table, info in manifest["tables"].items():
        expected = info["expected"]
        assert found[table] == [info["rows"], expected["accepted"], expected["collapsed"], expected["quarantined"]], (
            table
        )


def test_no_carriage_return_or_byte_order_mark_reaches_staging(loadable_variants_build: Project) -> None:
    columns = _query(
        loadable_variants_build,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'taglake_staging' and data_type = 'VARCHAR'",
    )
    assert columns
    for table, column in columns:
        (n,) = _query(
            loadable_variants_build,
            f'select count(*) from taglake_staging."{table}" '
            f'where contains("{column}", chr(13)) or contains("{column}", chr(65279))',
        )[0]
        assert n == 0, f"{table}.{column}"


def test_fullwidth_amounts_and_dates_load_as_their_ascii_values(loadable_variants_build: Project) -> None:
    (typed, total) = _query(
        loadable_variants_build,
        "select count(balance_twd), count(*) from taglake_staging.stg_core_banking__accounts",
    )[0]
    assert typed == total > 0
    (events,) = _query(
        loadable_variants_build, "select count(*) from taglake_staging.stg_digital__app_events where event_at is null"
    )[0]
    assert events == 0


def test_an_empty_extract_of_a_daily_feed_fails_the_build_naming_the_table_and_day(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    project = _project(tmp_path_factory.mktemp("empty_extract"))
    generate_lake(project.lake_dir, progress=False, **LAKE)
    init_key(project.key_file)  # `taglake keys init`: nothing else makes a key
    day = date(2026, 10, 29)
    fv.empty_extract(project.lake_dir, "cards.transactions", day)
    with pytest.raises(DbtError):
        build(project, target="local")
    failing = _query(
        project,
        "select source_table, landing_date from taglake_marts.fct_feed_completeness_daily where not is_complete",
    )
    assert failing == [("cards.transactions", day)]
