"""The leak scanner finds clear personal data and key material in a build and in files, and never shows it.

Assertions compare places, kinds and counts, never sets of values, so a failing test does not print raw data.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taglake.core.sources import source_tables
from taglake.lake.generate import generate_lake
from taglake.lake.national_id import checksum_digit
from taglake.privacy.keys import MaskingKey, write_key
from taglake.privacy.scan.match import sql_word_keys, words_of
from taglake.privacy.scan.scanner import (
    Hit,
    ScanError,
    collect_canaries,
    format_report,
    key_canaries,
    pii_fields,
    scan,
    scan_duckdb,
    scan_files,
)
from taglake.privacy.tokens import normalize, tokenize

ID_TABLES = (
    "crm/customers",
    "core_banking/accounts",
    "cards/transactions",
    "ml/model_scores",
    "ml/model_outcomes",
    "digital/app_events",
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lake")
    generate_lake(out, customers=200, days=5, seed=1, progress=False)
    return out


@pytest.fixture(scope="module")
def canaries(lake) -> dict[str, set[str]]:
    return collect_canaries(lake)


@pytest.fixture
def key(tmp_path) -> MaskingKey:
    key = MaskingKey.new(1)
    write_key(tmp_path / "secrets" / "masking.key", key)
    return key


def raw_rows(lake: Path, table: str) -> list[dict]:
    """Every record of a raw table, read with plain Python (JSON lines: the lines that parse)."""
    rows: list[dict] = []
    for path in sorted((lake / "raw" / table).rglob("*.*")):
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as fh:
                rows += csv.DictReader(fh)
        elif path.suffix == ".parquet":
            rows += pq.read_table(path).to_pylist()
        elif path.suffix == ".jsonl":
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict):
                    rows.append(record)
    return rows


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def build_db(path: Path, tables: dict[str, list[dict]]) -> Path:
    """A DuckDB file with a table per `schema.table`, every column VARCHAR."""
    with duckdb.connect(str(path)) as con:
        for name, rows in tables.items():
            schema, _ = name.split(".")
            data = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in rows[0]})
            con.execute(f"create schema if not exists {schema}")
            con.register("rows", data)
            con.execute(f"create table {name} as select * from rows")
            con.unregister("rows")
    return path


def masked_build(canaries: dict[str, set[str]], key: MaskingKey) -> dict[str, list[dict]]:
    """What a correct build holds: tokens, masked values, generalised places, internal references."""
    ids = sorted(canaries["national_id"])
    customers = [
        {
            "customer_token": tokenize(nid, "national_id", key.k_inner, key.k_outer),
            "unkeyed_hash": sha256_hex(nid),
            "upper_hash": sha256_hex(nid).upper(),
            "mobile_masked": "*******678",
            "email_masked": "***@gmail.com",
            "city": "臺北市",
            "district": "臺北市大安區",
            "card_id": f"C{i:011d}",
            "event_id": "-".join((sha256_hex(nid)[:8], sha256_hex(nid)[8:12], sha256_hex(nid)[12:16], f"a{i:011x}")),
        }
        for i, nid in enumerate(ids)
    ]
    events = [
        {"event_json": json.dumps({"customer_token": r["customer_token"], "event_type": "login", "os": "iOS 17.2"})}
        for r in customers
    ]
    contacts = [
        {"contact_token": tokenize(v, kind, key.k_inner, key.k_outer), "masked": v[0] + "○" * (len(v) - 1)}
        for kind in ("mobile", "email", "name")
        for v in sorted(canaries[kind])
    ]
    return {"marts.customers": customers, "marts.app_events": events, "marts.contacts": contacts}


def test_a_build_of_tokens_and_masked_values_has_no_hits(tmp_path, canaries, key):
    db = build_db(tmp_path / "build.duckdb", masked_build(canaries, key))
    with duckdb.connect(str(db)) as con:
        con.execute("create view marts.customer_view as select customer_token, city from marts.customers")
    everything = {**canaries, "key_material": key_canaries(tmp_path / "secrets" / "masking.key")}

    assert scan_duckdb(db, everything) == []


def test_planted_values_are_found_where_they_are_and_never_shown(tmp_path, canaries, key):
    nid = sorted(canaries["national_id"])[7]
    dashed = sorted(m for m in canaries["mobile"] if "-" in m)[3]
    email = sorted(canaries["email"])[5]
    tables = masked_build(canaries, key)
    tables["staging.leaky_customers"] = [
        {"customer_token": "t1", "holder": nid},
        {"customer_token": "t2", "holder": None},
    ]
    tables["marts.contact"] = [{"phone": dashed, "note": "call back"}]
    tables["marts.raw_events"] = [{"raw_line": json.dumps({"event_id": "e1", "contact": f"mailto:{email}", "n": 1})}]
    db = build_db(tmp_path / "build.duckdb", tables)

    hits = scan_duckdb(db, canaries)

    assert [(h.where, h.kind, h.count) for h in hits] == [
        ("relation marts.contact.phone", "mobile", 1),
        ("relation marts.raw_events.raw_line", "email", 1),
        ("relation staging.leaky_customers.holder", "national_id", 1),
    ]
    shown = format_report(hits) + repr(hits)
    planted = (nid, dashed, normalize(dashed, "mobile"), email, email.lower())
    assert [value in shown for value in planted] == [False] * len(planted)
    leaked = sum(value in shown for values in canaries.values() for value in values if len(value) >= 6)
    assert leaked == 0
    assert all(len(h.fingerprint) == 8 and int(h.fingerprint, 16) >= 0 for h in hits)


def test_schemas_like_limits_the_relations_scanned(tmp_path, canaries):
    nid = sorted(canaries["national_id"])[0]
    db = build_db(tmp_path / "build.duckdb", {"staging.a": [{"x": nid}], "marts.b": [{"x": nid}]})

    assert [h.where for h in scan_duckdb(db, canaries, schemas_like="marts")] == ["relation marts.b.x"]


def test_ids_and_mobiles_inside_longer_words_are_not_hits(tmp_path):
    nid, mobile = "A123456789", "0912345678"
    canaries = {"national_id": {nid}, "mobile": {mobile}}
    near_misses = [
        f"C{nid[1:]}01",  # a card reference starting like an ID
        f"x{nid}",
        f"{nid}0",
        f"e3b0{nid.lower()}c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b",  # hex token holding the shape
        f"{mobile}1",
        f"account 12{mobile}",
        f"{mobile}ab",
    ]
    db = build_db(tmp_path / "build.duckdb", {"marts.t": [{"v": v} for v in near_misses]})
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "near.log").write_text("\n".join(near_misses) + "\n", encoding="utf-8")

    assert scan_duckdb(db, canaries) == []
    assert scan_files([tmp_path / "files"], canaries) == []


def test_words_found_in_python_and_in_duckdb_agree():
    rng = random.Random(7)
    samples = [
        "A123456789",
        "a123456789",
        "id=A123456789;",
        "A123456789,B123456789",
        "0912-345-678",
        "+886 912 345 678",
        "x+886 912 345 678",
        "886-912-345-678",
        "09123456789",
        "Bob.Lin@Example.com",
        "mailto:bob@x.com.",
        "a@b@x.com",
        "王小明bob@x.com",
        '{"national_id":"A123456789","email":"x_y@z.org"}',
    ]
    samples += ["".join(rng.choice("aA0912345678@.-+ x_") for _ in range(rng.randint(5, 40))) for _ in range(2000)]
    with duckdb.connect() as con:
        con.register("s", pa.table({"i": list(range(len(samples))), "v": samples}))
        in_sql = dict(con.execute(f"select i, {sql_word_keys('v')} from s").fetchall())

    disagreements = sum(words_of(s) != set(in_sql[i]) for i, s in enumerate(samples))
    assert disagreements == 0


def test_files_with_an_id_in_compiled_sql_and_the_key_in_a_log_are_found(tmp_path, canaries, key):
    nid = sorted(canaries["national_id"])[11]
    target, logs = tmp_path / "target", tmp_path / "logs"
    (target / "compiled" / "taglake" / "models").mkdir(parents=True)
    logs.mkdir()
    sql = target / "compiled" / "taglake" / "models" / "stg.sql"
    sql.write_text(f"select *\nfrom raw\nwhere national_id = '{nid}'\n", encoding="utf-8")
    log = logs / "dbt.log"
    log.write_text(f"12:00:01 running\n12:00:02 debug: key={key.k_outer}\n", encoding="utf-8")
    token = tokenize(nid, "national_id", key.k_inner, key.k_outer)
    (target / "run_results.json").write_text(json.dumps({"token": token, "sha": sha256_hex(key.k_outer)}))
    (target / "partial_parse.msgpack").write_bytes(b"\x00\x01" + nid.encode())  # binary: skipped
    (target / "copy.duckdb").write_bytes(nid.encode())  # scan_duckdb's business
    everything = {**canaries, "key_material": key_canaries(tmp_path / "secrets" / "masking.key")}

    hits = scan_files([target, logs], everything)

    assert [(h.where, h.kind, h.count) for h in hits] == [
        (f"file {log}:2", "key_material", 1),
        (f"file {sql}:3", "national_id", 1),
    ]
    shown = format_report(hits) + repr(hits)
    assert [v in shown for v in (nid, key.k_outer, key.k_outer[:16])] == [False, False, False]


def test_a_file_with_only_tokens_has_no_hits(tmp_path, canaries, key):
    folder = tmp_path / "export"
    folder.mkdir()
    lines = [tokenize(nid, "national_id", key.k_inner, key.k_outer) for nid in sorted(canaries["national_id"])]
    (folder / "tokens.csv").write_text("customer_token\n" + "\n".join(lines) + "\n", encoding="utf-8")
    everything = {**canaries, "key_material": key_canaries(tmp_path / "secrets" / "masking.key")}

    assert scan_files([folder], everything) == []


def test_names_match_whole_cells_in_relations_and_letter_runs_in_files(tmp_path):
    canaries = {"name": {"王明", "陳小華", "𠀋大同"}}
    db = build_db(
        tmp_path / "build.duckdb",
        {"marts.t": [{"a": "王明"}, {"a": "客戶王明先生"}, {"a": "陳小華先生"}, {"a": " 陳小華 "}]},
    )
    folder = tmp_path / "target"
    folder.mkdir()
    manifest = {"description": "客戶王明先生", "owner": "王明", "note": "致陳小華先生", "rare": "𠀋大同"}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")  # \u escapes, as dbt writes it

    in_db = [(h.where, h.count) for h in scan_duckdb(db, canaries)]
    in_files = scan_files([folder], canaries)

    assert in_db == [("relation marts.t.a", 1), ("relation marts.t.a", 1)]  # 王明 and the padded 陳小華
    assert sorted(h.count for h in in_files) == [1, 1, 1]  # "王明" whole, 陳小華 inside a run, 𠀋大同 (non-BMP)


def test_collect_canaries_reads_every_kind_from_every_table(lake, canaries):
    assert {kind: bool(values) for kind, values in canaries.items()} == {
        "national_id": True,
        "mobile": True,
        "email": True,
        "name": True,
    }
    missing_per_table = {}
    for table in ID_TABLES:
        ids = {r["national_id"] for r in raw_rows(lake, table) if r.get("national_id")}
        missing_per_table[table] = (bool(ids), len(ids - canaries["national_id"]))
    assert missing_per_table == {table: (True, 0) for table in ID_TABLES}

    mobiles = [r["mobile"] for r in raw_rows(lake, "crm/customers") if r["mobile"]]
    written = [m for m in mobiles if not m.isdigit()]
    missing_written = sum(m not in canaries["mobile"] for m in mobiles)
    missing_normalised = sum(normalize(m, "mobile") not in canaries["mobile"] for m in mobiles)
    assert (bool(written), missing_written, missing_normalised) == (True, 0, 0)

    emails = [r["email"] for r in raw_rows(lake, "crm/customers") if r["email"]]
    missing_emails = sum(e not in canaries["email"] or e.lower() not in canaries["email"] for e in emails)
    assert missing_emails == 0
    short = sum(len(v) < 4 for kind in ("national_id", "mobile", "email") for v in canaries[kind])
    assert short == 0


def test_every_table_with_ids_declares_them_to_the_scanner():
    declared = {
        name.replace(".", "/") for name, t in source_tables().items() if "national_id" in pii_fields(t).values()
    }

    assert sorted(set(ID_TABLES) - declared) == []


def test_collect_canaries_takes_ids_from_json_lines_malformed_ones_included(tmp_path, lake):
    copy = tmp_path / "lake"
    shutil.copytree(lake / "raw", copy / "raw")
    fresh = [f"Z1999999{n}{checksum_digit('Z', f'1999999{n}')}" for n in (1, 2)]
    newest = sorted((copy / "raw" / "digital" / "app_events").rglob("*.jsonl"))[-1]
    with newest.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event_id": "e-new", "national_id": fresh[0], "event_type": "login"}) + "\n")
        fh.write('{"event_id":"e-cut","national_id":"' + fresh[1] + '","event_type":"lo\n')

    found = collect_canaries(copy)["national_id"]

    assert [nid in found for nid in fresh] == [True, True]


def test_limit_per_kind_keeps_that_many_values_with_all_their_spellings(lake):
    limited = collect_canaries(lake, limit_per_kind=5)

    assert len({normalize(v, "national_id") for v in limited["national_id"]}) == 5
    assert len({normalize(v, "mobile") for v in limited["mobile"]}) == 5
    assert len(limited["mobile"]) >= 10  # every mobile as written and as 09xxxxxxxx (and two more spellings)


def test_key_canaries_are_both_parts_and_their_prefixes(tmp_path, key):
    found = key_canaries(tmp_path / "secrets" / "masking.key")

    expected = {key.k_inner, key.k_outer, key.k_inner[:16], key.k_outer[:16]}
    assert found == expected


def test_scan_fingerprints_one_value_alike_in_a_build_and_a_file_and_skips_the_key_file(tmp_path, lake, canaries, key):
    nid = sorted(canaries["national_id"])[3]
    db = build_db(tmp_path / "build.duckdb", {"marts.t": [{"x": nid}]})
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "dbt.log").write_text(f"loaded {nid}\n", encoding="utf-8")
    key_file = tmp_path / "secrets" / "masking.key"

    hits = scan(lake, db_path=db, folders=[logs, key_file.parent], key_file=key_file)
    again = scan(lake, db_path=db, folders=[logs], key_file=key_file)

    assert [(h.where, h.kind) for h in hits] == [
        (f"file {logs / 'dbt.log'}:1", "national_id"),
        ("relation marts.t.x", "national_id"),
    ]
    assert hits[0].fingerprint == hits[1].fingerprint
    assert {h.fingerprint for h in again} != {hits[0].fingerprint}  # salted per scan: no reuse across reports


def test_many_values_in_one_place_are_summarised(tmp_path, canaries):
    ids = sorted(canaries["national_id"])[:30]
    db = build_db(tmp_path / "build.duckdb", {"marts.t": [{"x": nid} for nid in ids]})

    hits = scan_duckdb(db, canaries, hits_per_place=10)

    assert len(hits) == 11
    assert sum(h.count for h in hits) == 30
    assert [h.fingerprint for h in hits].count("+20 more") == 1
    assert "+20 more" in format_report(hits)


def test_an_unreadable_relation_fails_the_scan_without_quoting_data(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("v\nA123456789\n", encoding="utf-8")
    db = tmp_path / "build.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(f"create view v as select * from read_csv('{data}', all_varchar=true)")
    data.unlink()

    with pytest.raises(ScanError, match=r"relation main\.v\.v") as info:
        scan_duckdb(db, {"national_id": {"A123456789"}})
    assert "A123456789" not in str(info.value)


def test_a_large_table_with_thousands_of_canaries_is_scanned_set_based(tmp_path):
    rng = random.Random(3)
    ids = sorted(
        {f"{rng.choice('ABCDEFGHJKLMNPQRSTUVXYWZIO')}{rng.randint(100000000, 299999999)}" for _ in range(5000)}
    )
    planted = ids[::1000]
    db = tmp_path / "big.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(
            """
            create table big as
            select sha256(i::varchar) as token, 'C' || lpad(i::varchar, 11, '0') as card_id, 'R' || (i % 5) as grade
            from range(200000) as r(i)
            """
        )
        con.executemany("insert into big values (?, 'C0', 'R1')", [[nid] for nid in planted])

    hits = scan_duckdb(db, {"national_id": set(ids)})

    assert [(h.where, h.count) for h in hits] == [("relation main.big.token", 1)] * len(planted)
    assert isinstance(hits[0], Hit)
