"""The round trip: batches POSTed through the ingestion Lambda land in (moto's) S3 under the raw zone's keys; the
same keys under a local lake's raw/ are what the local target reads, so the next dbt build turns the accepted
records into staging and mart rows, the rejected ones never land, and the reconciliation counts every new raw row.
One dbt build of a tiny lake (the only build in tests_py/ingest/)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from ingest_harness import BUCKET, PREFIX, ingest_harness
from ingest_records import app_event, card_transaction, customer

from taglake.core.project import Project
from taglake.lake.generate import generate_lake
from taglake.lake.preflight import check_lake
from taglake.ops.local_build import build
from taglake.privacy.keys import init_key

pytestmark = [pytest.mark.api, pytest.mark.dbt]

SELECTION = (
    "--select",
    "+fct_source_reconciliation +fct_app_events +dim_customers +fct_card_transactions",
    "--indirect-selection",
    "cautious",
)
LAKE = {"customers": 150, "days": 3, "seed": 5, "defect_rate": 0.03}  # ends 2026-10-31, the harness's clock day


@dataclass
class Landed:
    project: Project
    manifest: dict
    event_ids: list[str]
    keys: list[str]
    transaction_id: str


def _query(project: Project, sql: str) -> list[tuple]:
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        return con.sql(sql).fetchall()


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Landed]:
    work = tmp_path_factory.mktemp("ingest_build")
    project = Project.locate(
        lake_dir=work / "lake",
        duckdb_path=work / "taglake.duckdb",
        artifacts_dir=work / "artifacts",
        key_file=work / "secrets" / "masking_keys.csv",
    )
    generate_lake(project.lake_dir, progress=False, **LAKE)
    init_key(project.key_file)
    manifest = json.loads((project.lake_dir / "manifest.json").read_text(encoding="utf-8"))
    events = [app_event(event_type=" Login ", page=None), app_event(), app_event(event_type="transfer")]
    new_customer = customer()
    # the card holder is the customer landed with it (dim_customers must know every transaction's holder)
    transaction = card_transaction(
        national_id=new_customer["national_id"], transaction_at="2026-10-31T10:00:00+08:00", amount="88.8"
    )
    with ingest_harness() as api:
        assert api.post("/ingest/digital/app_events", events)[0] == 207
        assert api.post("/ingest/crm/customers", [new_customer])[0] == 200
        assert api.post("/ingest/cards/transactions", [transaction])[0] == 200  # a Parquet feed
        keys = api.keys()
        for key in keys:  # S3's raw zone is the lake's raw/: the same keys under the prefix
            target = project.lake_dir / "raw" / key.removeprefix(PREFIX + "/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(api.read(key))
    assert check_lake(project.lake_dir) == []  # the pre-flight every local build runs passes the API's files
    # Only what the round trip reads (and its ancestors, with their tests): the whole project is built elsewhere.
    build(project, target="local", extra=[*SELECTION])
    yield Landed(project, manifest, [e["event_id"] for e in events[:2]], keys, transaction["transaction_id"])


def test_each_batch_landed_in_s3_under_its_table_and_landing_partition(landed: Landed) -> None:
    assert len(landed.keys) == 3
    assert {k.split("/year=")[0] for k in landed.keys} == {
        f"{PREFIX}/digital/app_events",
        f"{PREFIX}/crm/customers",
        f"{PREFIX}/cards/transactions",
    }
    assert all("/year=2026/month=10/day=31/" in k for k in landed.keys), BUCKET


def test_the_next_build_reads_the_landed_rows_and_the_reconciliation_counts_them(landed: Landed) -> None:
    rows = {t: rest for t, *rest in _query(landed.project, "select * from taglake_marts.fct_source_reconciliation")}
    tables = landed.manifest["tables"]
    for table, added in (("digital.app_events", 2), ("crm.customers", 1), ("cards.transactions", 1)):
        expected = tables[table]["expected"]
        raw, accepted, collapsed, quarantined = rows[table]
        assert raw == tables[table]["rows"] + added, table
        assert (accepted, collapsed, quarantined) == (
            expected["accepted"] + added,
            expected["collapsed"],
            expected["quarantined"],
        ), table
        assert raw == accepted + collapsed + quarantined


def test_accepted_records_become_mart_rows(landed: Landed) -> None:
    ids = ", ".join(f"'{i}'" for i in landed.event_ids)
    marts = _query(
        landed.project,
        f"select event_id, event_type, landing_date from taglake_marts.fct_app_events where event_id in ({ids})",
    )
    assert sorted(marts) == sorted([(landed.event_ids[0], "login", _day()), (landed.event_ids[1], "page_view", _day())])
    card = _query(
        landed.project,
        "select cast(amount as varchar), cast(transaction_at as varchar) from taglake_marts.fct_card_transactions "
        f"where transaction_id = '{landed.transaction_id}'",
    )
    assert card == [("88.80", "2026-10-31 02:00:00")]  # typed in the Parquet file: exact amount, UTC time
    customers = _query(landed.project, "select count(*) from taglake_marts.dim_customers")[0][0]
    assert customers == landed.manifest["tables"]["crm.customers"]["expected"]["accepted"] + 1


def _day():
    from datetime import date

    return date(2026, 10, 31)


def test_the_lake_s_own_files_were_not_touched(landed: Landed, tmp_path: Path) -> None:
    days = sorted((landed.project.lake_dir / "raw" / "digital" / "app_events").glob("year=*/month=*/day=*/*.jsonl"))
    generated = [p for p in days if "_api_" not in p.name]
    assert len(generated) == LAKE["days"] and len(days) == LAKE["days"] + 1
