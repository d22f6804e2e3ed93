"""masked_record (the quarantine's record of a rejected row) keeps no personal value, on every engine: personal data
shifted into code columns (a broken quote does that), hidden in undeclared or nested JSON keys, or in a line that
does not parse, is a length and a keyed hash; declared non-personal ASCII values stay readable, redacted.

Compiled for local, athena and redshift (the AWS SQL translated to DuckDB) and run on hand-made rows. The oracle
is plain Python string search after NFKC and case folding, not taglake.privacy.patterns.
"""

from __future__ import annotations

import json
import unicodedata

import duckdb
import pytest
from dbt_snippets import compiled_for_duckdb

from taglake.lake.national_id import checksum_digit

pytestmark = [pytest.mark.redteam, pytest.mark.dbt]

NID = "K20406080" + str(checksum_digit("K", "20406080"))
MOBILE = "0955321654"
EMAIL = "hidden.person@example.net"
NAME = "司馬小雲"
ADDRESS = "臺南市東區大學路1號"
NEEDLES = ("k204060", "955321654", "hidden.person@example.net", NAME, "大學路1號")
KEYS = ("v1", "a" * 64, "b" * 64)


def _fw(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def leaks(text: str) -> list[str]:
    folded = "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c not in " .-()+\u3000")
    return [n for n in NEEDLES if n.replace(".", "") in folded or n in folded]


CSV_COLUMNS = [
    "national_id",
    "name_zh",
    "birth_date",
    "gender",
    "mobile",
    "email",
    "address",
    "home_branch",
    "risk_grade",
    "customer_status",
    "customer_since",
    "updated_at",
]
CSV_ROWS = [
    # personal data in every non-personal column, as a broken quote would shift it
    (NID, NAME, "1990-01-01", _fw(MOBILE), "", "", "", NID.lower(), EMAIL, NAME, ADDRESS, f"ID:{NID}"),
    ("", "", "", f"+886 {MOBILE[1:]}", f"{MOBILE[:4]}-{MOBILE[4:]}", EMAIL, ADDRESS, "0101", "R2", "active", "", ""),
    # a clean rejected row: the non-personal values stay
    (NID, NAME, "not-a-date", "M", MOBILE, EMAIL, ADDRESS, "0101", "R2", "active", "2020-01-01", "2026-10-28"),
]
JSON_LINES = [
    '{"event_id":"e1","national_id":"' + _fw(NID) + '","note":"' + NAME + " " + MOBILE,  # cut off, malformed
    json.dumps(
        {
            "event_id": f"ID:{NID}",
            "national_id": NID,
            "event_type": "login",
            "event_at": "x",
            "page": f"/客戶/{NAME}",
            "product_code": f"{EMAIL} {MOBILE}",
            "device": {"os": "ios", "owner": NAME},
            "undeclared": ADDRESS,
        },
        ensure_ascii=False,
    ),
    json.dumps({"event_id": "e3", "national_id": "", "event_type": "login", "event_at": "x", "page": "/home"}),
]


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create table masking_keys (key_version varchar, k_inner varchar, k_outer varchar)")
    con.execute("insert into masking_keys values (?, ?, ?)", KEYS)
    con.execute(f"create table crm ({', '.join(c + ' varchar' for c in CSV_COLUMNS)})")
    con.executemany(f"insert into crm values ({', '.join('?' for _ in CSV_COLUMNS)})", CSV_ROWS)
    con.execute("create table app (raw_line varchar, json_line varchar)")
    con.executemany(
        "insert into app values (?, case when json_valid(?) then ? end)", [(line, line, line) for line in JSON_LINES]
    )
    return con


@pytest.mark.parametrize("target", ["local", "athena", "redshift"])
def test_a_quarantined_csv_record_holds_no_personal_value(target: str, con: duckdb.DuckDBPyConnection) -> None:
    sql = compiled_for_duckdb(
        target,
        "select {{ masked_record('crm', 'customers', relation='crm') }} as rec from crm cross join masking_keys",
    )
    records = [r for (r,) in con.execute(sql).fetchall()]
    assert len(records) == len(CSV_ROWS)
    for record in records:
        assert not leaks(record), (target, leaks(record))
    assert any(r.startswith("[national_id len=10 #") and ",M,[mobile len=10 #" in r for r in records), records
    assert any(",0101,R2,active,2020-01-01,2026-10-28" in r for r in records), records
    assert all(r.count(",") == len(CSV_COLUMNS) - 1 for r in records)


@pytest.mark.parametrize("target", ["local", "athena", "redshift"])
def test_a_quarantined_json_line_holds_no_personal_value(target: str, con: duckdb.DuckDBPyConnection) -> None:
    sql = compiled_for_duckdb(
        target,
        "select {{ masked_record('digital', 'app_events', relation='app') }} as rec from (select app.*, "
        "{{ json_fields('app.json_line', raw_json_paths('digital', 'app_events')) }} as json_fields from app) as app "
        "cross join masking_keys",
    )
    records = [r for (r,) in con.execute(sql).fetchall()]
    assert len(records) == len(JSON_LINES)
    for record in records:
        assert not leaks(record), (target, leaks(record))
    assert any(r.startswith("event_id=e3; national_id=; event_type=login;") and "page=/home" in r for r in records)
    assert any(r.startswith("event_id=; national_id=;") and "raw_line=[raw_line len=" in r for r in records)
