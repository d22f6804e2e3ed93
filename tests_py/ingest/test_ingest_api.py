"""The ingestion Lambda against moto: a batch lands in S3 in the raw zone's layout and format, each status code
means what docs/ingestion.md says, a retry writes nothing twice, only live schema versions are accepted, and a
record's spelling is judged the way staging judges it."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from ingest_harness import BUCKET, Harness, event, ingest_harness
from ingest_records import app_event, card_transaction, customer, national_id

from taglake.ingest import registry
from taglake.ingest.app import MAX_BODY_BYTES, MAX_RECORDS
from taglake.ingest.validate import check_record, parses_as

pytestmark = pytest.mark.api

APP_EVENTS = "/ingest/digital/app_events"
KEY = re.compile(r"raw/digital/app_events/year=2026/month=10/day=31/app_events_20261031_api_[0-9a-f]{32}\.jsonl")


@pytest.fixture(scope="module")
def module_api() -> Iterator[Harness]:
    with ingest_harness() as harness:
        yield harness


@pytest.fixture
def api(module_api: Harness) -> Iterator[Harness]:
    """The module's moto API with an empty raw bucket (request IDs are fresh UUIDs, so idempotency records from
    earlier tests never match)."""
    module_api.empty_bucket()
    yield module_api
    module_api.empty_bucket()


def test_a_batch_lands_in_s3_as_one_json_lines_file_in_the_landing_partition(api: Harness) -> None:
    records = [app_event(), app_event(event_type="login", page=None)]
    status, answer = api.post(APP_EVENTS, records)
    assert status == 200
    assert answer["accepted"] == 2 and answer["rejected"] == [] and answer["schema_version"] == 1
    [key] = api.keys()
    assert KEY.fullmatch(key)
    assert answer["file"] == f"s3://{BUCKET}/{key}"
    assert [json.loads(line) for line in api.read(key).decode().splitlines()] == records


def test_a_second_batch_gets_its_own_file_and_overwrites_nothing(api: Harness) -> None:
    api.post(APP_EVENTS, [app_event()])
    first = api.keys()
    api.post(APP_EVENTS, [app_event()])
    assert len(api.keys()) == 2 and set(first) < set(api.keys())


def test_a_csv_table_lands_with_its_declared_header_and_reads_as_the_local_source_reads_it(
    api: Harness, tmp_path: Path
) -> None:
    tricky = customer(address='臺北市, "大安區" 測試路1號', email=None)
    status, answer = api.post("/ingest/crm/customers", tricky)
    assert status == 200, answer
    [key] = api.keys()
    assert re.fullmatch(r"raw/crm/customers/year=2026/month=10/day=31/customers_20261031_api_[0-9a-f]{32}\.csv", key)
    body = api.read(key).decode()
    header = next(csv.reader(io.StringIO(body)))
    assert header == list(registry.read_version("crm.customers", 1)["properties"])
    # Read with the options of the crm source's external_location (models/staging/crm/_crm__sources.yml).
    landed = tmp_path / "customers.csv"
    landed.write_text(body, encoding="utf-8")
    with duckdb.connect() as con:
        rows = con.sql(
            "select * from read_csv(?, header=true, all_varchar=true, delim=',', quote='\"', escape='\"')",
            params=[str(landed)],
        ).fetchall()
    assert len(rows) == 1 and rows[0][header.index("address")] == tricky["address"]
    assert rows[0][header.index("email")] is None  # an absent optional field is an empty field


def test_a_partial_failure_answers_207_with_each_rejected_index_and_reason_and_lands_the_rest(api: Harness) -> None:
    records = [app_event(), app_event(event_type="transfer"), app_event(event_at="31/10/2026"), app_event()]
    del records[3]["national_id"]
    status, answer = api.post(APP_EVENTS, records)
    assert status == 207
    assert answer["accepted"] == 1 and answer["received"] == 4
    assert answer["rejected"] == [
        {"index": 1, "reasons": ["event_type: outside its declared format or list of values"]},
        {"index": 2, "reasons": ["event_at: does not parse as timestamp"]},
        {"index": 3, "reasons": ["national_id: required, and missing, null or blank"]},
    ]
    [key] = api.keys()
    assert len(api.read(key).splitlines()) == 1


def test_a_batch_with_every_record_rejected_answers_207_and_lands_nothing(api: Harness) -> None:
    status, answer = api.post(APP_EVENTS, [app_event(event_id="not-a-uuid")])
    assert status == 207 and answer["accepted"] == 0 and answer["file"] is None
    assert api.keys() == []


@pytest.mark.parametrize(
    ("raw", "headers", "status"),
    [
        (b"{not json", {}, 400),
        (b"[]", {}, 400),
        (b'"a string"', {}, 400),
        (b"", {}, 400),
        (json.dumps([app_event()]).encode(), {"x-request-id": "retry-1"}, 400),
        (json.dumps([app_event()]).encode(), {"x-taglake-schema-version": "one"}, 400),
        (json.dumps([app_event()]).encode(), {"x-taglake-schema-version": "2"}, 404),
        (json.dumps([{}] * (MAX_RECORDS + 1)).encode(), {}, 413),
        (b"[" + b" " * MAX_BODY_BYTES + b"{}]", {}, 413),
    ],
)
def test_a_malformed_or_oversized_request_is_a_4xx_never_a_5xx(
    api: Harness, raw: bytes, headers: dict[str, str], status: int
) -> None:
    request_id = headers.pop("x-request-id", None)
    got, answer = api.post(APP_EVENTS, None, raw=raw, headers=headers, request_id=request_id)
    assert got == status and set(answer) == {"message"}
    assert api.keys() == []


@pytest.mark.parametrize(
    "path", ["/ingest/digital/nope", "/ingest/Digital/app_events", "/ingest/digital", "/ingest/cards/transactions/x"]
)
def test_an_unknown_table_is_404(api: Harness, path: str) -> None:
    status, answer = api.post(path, [app_event()])
    assert status == 404 and set(answer) == {"message"}


def test_a_parquet_feed_lands_typed_as_the_feed_writes_it_and_reads_with_the_generators_files(
    api: Harness, tmp_path: Path
) -> None:
    """cards.transactions is Parquet with typed columns: the batch's file has the generator's column types
    (timestamp[us] in UTC, decimal(18,2) exact, text as sent), so the source's union_by_name read takes both."""
    records = [
        card_transaction(transaction_at="2026-10-31T16:15:00+08:00", amount="1280.5"),
        card_transaction(amount="-35", merchant_category_code=None, channel=" POS "),
    ]
    status, answer = api.post("/ingest/cards/transactions", records)
    assert status == 200, answer
    [key] = api.keys()
    assert re.fullmatch(
        r"raw/cards/transactions/year=2026/month=10/day=31/transactions_20261031_api_[0-9a-f]{32}\.parquet", key
    )
    landed = tmp_path / "api.parquet"
    landed.write_bytes(api.read(key))
    generated = tmp_path / "generated.parquet"
    with duckdb.connect() as con:  # a file as taglake.lake.feeds writes the feed (format parquet, zstd)
        con.execute(
            "copy (select 'tx0000000000000001' as transaction_id, 'C00000000001' as card_id, 'A123456789' as "
            "national_id, timestamp '2026-10-30 01:02:03' as transaction_at, cast(1.5 as decimal(18,2)) as amount, "
            "'TWD' as currency, '5812' as merchant_category_code, 'TW' as merchant_country, 'pos' as channel, "
            "'apple_pay' as wallet_type) to ? (format parquet, compression zstd)",
            [str(generated)],
        )
        types = dict(
            con.execute(
                "select column_name, column_type from (describe select * from read_parquet(?))", [str(generated)]
            ).fetchall()
        )
        assert (
            dict(
                con.execute(
                    "select column_name, column_type from (describe select * from read_parquet(?))", [str(landed)]
                ).fetchall()
            )
            == types
        )
        rows = con.execute(
            "select cast(transaction_at as varchar), cast(amount as varchar), channel, merchant_category_code "
            "from read_parquet(?, union_by_name=true) where transaction_id like 'tx1%' order by amount desc",
            [[str(generated), str(landed)]],
        ).fetchall()
    assert rows == [("2026-10-31 08:15:00", "1280.50", "pos", "5812"), ("2026-10-31 09:30:00", "-35.00", " POS ", None)]


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "12.345"), ("amount", 12.5), ("amount", "1e3"), ("transaction_at", "2026-02-30 10:00:00"),
     ("transaction_at", 1761900000)],
)  # fmt: skip
def test_a_typed_value_that_the_parquet_column_cannot_hold_exactly_is_rejected_naming_the_field(
    api: Harness, field: str, value: object
) -> None:
    status, answer = api.post("/ingest/cards/transactions", [card_transaction(**{field: value})])
    assert status == 207 and answer["accepted"] == 0 and api.keys() == []
    [rejected] = answer["rejected"]
    assert rejected["reasons"] == [
        f"{field}: does not parse as " + ("decimal(18,2)" if field == "amount" else "timestamp")
    ]


def test_a_score_is_a_json_number_and_nothing_else(api: Harness) -> None:
    good = {"national_id": national_id(), "model_name": "churn_propensity", "model_version": "2.1.0",
            "scored_at": "2026-10-31 02:00:00", "score": 0.42}  # fmt: skip
    assert api.post("/ingest/ml/model_scores", [good])[0] == 200
    for bad in ("0.42", True, None):
        status, answer = api.post("/ingest/ml/model_scores", [{**good, "score": bad}])
        assert status == 207 and answer["rejected"][0]["reasons"], bad


def test_without_a_valid_api_key_the_answer_is_403_and_nothing_lands(api: Harness) -> None:
    assert api.post(APP_EVENTS, [app_event()], api_key=None)[0] == 403
    assert api.post(APP_EVENTS, [app_event()], api_key="wrong")[0] == 403
    # An event API Gateway passed on without a key (a method deployed without ApiKeyRequired) is refused too.
    answer = api.invoke(event(APP_EVENTS, [app_event()], api_key_id=None))
    assert answer["statusCode"] == 403
    assert api.keys() == []


def test_a_retried_request_gets_the_first_answer_and_lands_nothing_twice(api: Harness) -> None:
    request_id = str(uuid.uuid4())
    body = [app_event(), app_event(event_type="nope")]
    first = api.post(APP_EVENTS, body, request_id=request_id)
    again = api.post(APP_EVENTS, body, request_id=request_id.upper())
    assert first == again and first[0] == 207
    assert len(api.keys()) == 1


def test_a_request_id_reused_for_another_body_is_409(api: Harness) -> None:
    request_id = str(uuid.uuid4())
    assert api.post(APP_EVENTS, [app_event()], request_id=request_id)[0] == 200
    status, answer = api.post(APP_EVENTS, [app_event()], request_id=request_id)
    assert status == 409 and "another body" in answer["message"]
    assert len(api.keys()) == 1


def test_only_live_registry_versions_are_accepted(api: Harness) -> None:
    assert registry.live_versions("digital.app_events") == [1]
    ok = api.post(APP_EVENTS, [app_event()], headers={"x-taglake-schema-version": "1"})
    assert ok[0] == 200 and ok[1]["schema_version"] == 1
    assert api.post(APP_EVENTS, [app_event()], headers={"x-taglake-schema-version": "9"})[0] == 404


SCHEMA = registry.read_version("digital.app_events", 1)


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        ({"event_type": "  Page_View "}, True),  # staging: lower(trim())
        ({"event_type": "page_view\n"}, False),  # trim() takes spaces only; RE2's $ is the end of the text
        ({"event_type": "\tlogin"}, False),
        ({"event_type": "ｌｏｇｉｎ"}, False),  # full-width letters are not the code
        ({"event_at": "２０２６－１０－３１T08:15:00Z"}, True),  # ascii_numerals reads full-width digits
        ({"event_at": " 2026-10-31 08:15:00 "}, True),
        ({"event_at": "1793434500"}, False),  # epoch seconds: wrong_type
        ({"event_at": "   "}, False),  # blank is missing
        ({"national_id": " " + national_id().lower() + " "}, True),  # upper(trim()) as staging reads it
        ({"national_id": national_id()[:-1] + "0"}, False),  # checksum
        ({"national_id": "Ｆ" + national_id()[1:]}, False),  # a full-width letter is no national ID
        ({"device": {"os": " IOS ", "os_version": "18.6.2", "app_version": "5.3.1", "device_model": "x"}}, True),
        ({"device": {"os": "ios", "os_version": "18.6.2.1"}}, False),
        ({"device": "ios"}, False),
        ({"page": 7}, False),  # text fields are JSON strings
        ({"product_code": "cc-platinum"}, False),  # a code without a declared case keeps its case
    ],
)
def test_a_spelling_is_judged_as_staging_judges_it(change: dict, accepted: bool) -> None:
    assert (check_record(app_event(**change), SCHEMA) == []) is accepted


SPELLINGS = [
    *("2026-10-31", " 2026-10-31 ", "\t2026-10-31", "2026-1-5", "２０２６－１０－３１", "31/12/1985", "0000-00-00"),
    *("2026-02-30", "N/A", "2026-10-31 12:00:00", "2026-10-31T12:00:00.000Z", "2026-10-31T12:00:00+08:00"),
    *("2026-10-31T25:00:00Z", "1700000000", "12345.67", "1,234.00", "12345.OO", "-5", ".5", "１２３４５．６７"),
    *("1e5", "12\n", "NaN", "inf", "99999999999999999.99", "1_000", ""),
]


@pytest.mark.parametrize("data_type", ["date", "timestamp", "decimal(18,2)", "double"])
def test_the_api_never_accepts_a_value_the_local_engine_would_quarantine(data_type: str) -> None:
    """cast_text on DuckDB: try_cast(nullif(trim(ascii_numerals(x)), '') as type). The API may be stricter (a
    time on a date, `inf`, tabs: Athena refuses those too), never looser."""
    with duckdb.connect() as con:
        for value in SPELLINGS:
            engine = con.execute(
                "select try_cast(nullif(trim(translate(?, '０１２３４５６７８９＋－．，：', '0123456789+-.,:')), '') "
                f"as {data_type}) is not null",
                [value],
            ).fetchone()[0]
            if parses_as(value, data_type):
                assert engine, (data_type, value)
    for value in ("2026-10-31", "２０２６－１０－３１", " 2026-10-31 "):
        assert parses_as(value, "date")
