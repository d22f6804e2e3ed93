"""Quarantine publishes no personal data: personal values planted into rejected rows of a small generated lake
(malformed and cut-off JSON lines, an undeclared JSON key, wrong-typed CSV rows with personal data shifted into
code columns, a broken CSV quote) reach no relation, file or console output, in any spelling.

The oracle is plain Python string search over NFKC-normalised, case-folded text with separators stripped; it does
not use taglake.privacy.patterns, the guard or scan-pii.
"""

from __future__ import annotations

import json
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from taglake.core.project import Project
from taglake.lake.generate import generate_lake
from taglake.lake.national_id import checksum_digit
from taglake.privacy import dbt_runner
from taglake.privacy.dbt_runner import prepare_local
from taglake.privacy.keys import init_key

pytestmark = [pytest.mark.redteam, pytest.mark.dbt]

NID = "Q19283746" + str(checksum_digit("Q", "19283746"))
MOBILE = "0966123987"
EMAIL = "redteam.leak@example.org"
NAME = "歐陽鐵柱"
ADDRESS = "臺中市西屯區臺灣大道三段99號"


def _fw(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKC", text).casefold() if c not in " .-()+\u3000")


# What the oracle looks for, folded: the ID, the mobile's nine digits after its 0 (every +886 form keeps them),
# the e-mail address, the name, and the street of the address.
NEEDLES = {
    "national_id": _fold(NID),
    "mobile": MOBILE[1:],
    "email": _fold(EMAIL),
    "name": NAME,
    "address": _fold("臺灣大道三段99號"),
}


def leaked_kinds(text: str) -> set[str]:
    folded = _fold(text)
    return {kind for kind, needle in NEEDLES.items() if needle in folded}


@dataclass
class Planted:
    project: Project
    output: str
    returncode: int
    lines_added: dict[str, int]


def _dbt(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    prepare_local(project, "local")
    return dbt_runner.capture(args, cwd=project.root, env=project.dbt_env("local"))


def _first(lake: Path, table: str, suffix: str) -> Path:
    return sorted((lake / "raw" / table).rglob(f"*{suffix}"))[0]


def _plant(lake: Path) -> dict[str, int]:
    """Append hostile rejected rows to the first day's files; the number of rows added per source table."""
    events = _first(lake, "digital/app_events", ".jsonl")
    event_at = "2026-10-28T02:13:35.677Z"
    lines = [
        # malformed JSON (no closing brace), every value in another spelling
        '{"event_id":"rt-malformed","national_id":"'
        + _fw(NID.lower())
        + '","note":"'
        + NAME
        + " +886 (0)966-123-987 "
        + EMAIL.upper()
        + " "
        + ADDRESS
        + '"',
        # a line cut off in the middle of the national ID
        '{"event_id":"rt-cut","national_id":"' + NID[:8],
        # valid JSON, wrong type, personal data in the ID key, in undeclared keys and a nested undeclared key
        json.dumps(
            {
                "event_id": "rt-undeclared",
                "national_id": f" {NID.lower()} ",
                "event_type": "login",
                "event_at": "not-a-time",
                "page": None,
                "product_code": None,
                "device": {"os": "ios", "owner": NAME, "phone": MOBILE},
                "contact_name": NAME,
                "contact_mobile": "+886-966-123-987",
                "contact_email": _fw(EMAIL),
                "home": ADDRESS,
            },
            ensure_ascii=False,
        ),
        # valid JSON, missing the event type
        json.dumps({"event_id": "rt-missing", "national_id": NID, "event_type": "", "event_at": event_at}),
    ]
    with events.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")

    customers = _first(lake, "crm/customers", ".csv")
    rows = [
        # wrong types (birth date; a name in the customer-since date), every personal column filled
        f"{NID},{NAME},not-a-date,M,{MOBILE},{EMAIL},{ADDRESS},0101,R2,active,{NAME},2026-10-28 10:00:00",
        # other spellings, a wrong-typed update time
        f"{_fw(NID)},{NAME},1990-01-01,F,+886 (0)966 123 987,{EMAIL.upper()},{ADDRESS},0101,R2,active,,{_fw(MOBILE)}",
    ]
    with customers.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(rows) + "\n")

    accounts = _first(lake, "core_banking/accounts", ".csv")
    # wrong types: an address in the opening date, an e-mail address in the balance
    row = f"99990000000001,{NID},deposit,DEP-SAV,active,{ADDRESS},,{EMAIL},,2026-10-28 10:00:00"
    with accounts.open("a", encoding="utf-8") as fh:
        fh.write(row + "\n")
    return {"digital.app_events": len(lines), "crm.customers": len(rows), "core_banking.accounts": 1}


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planted]:
    work = tmp_path_factory.mktemp("redteam_quarantine")
    project = Project.locate(
        lake_dir=work / "lake",
        duckdb_path=work / "t.duckdb",
        artifacts_dir=work / "artifacts",
        key_file=work / "secrets" / "keys.csv",
    )
    generate_lake(project.lake_dir, customers=150, days=3, seed=5, defect_rate=0.0, progress=False)
    init_key(project.key_file)  # `taglake keys init`: nothing else makes a key
    raw = "".join(
        p.read_text(encoding="utf-8") for p in (project.lake_dir / "raw").rglob("*.*") if p.suffix != ".parquet"
    )
    assert not leaked_kinds(raw)  # the plants are not in the generated lake by chance
    added = _plant(project.lake_dir)
    raw = "".join(
        p.read_text(encoding="utf-8") for p in (project.lake_dir / "raw").rglob("*.*") if p.suffix != ".parquet"
    )
    assert leaked_kinds(raw) == set(NEEDLES)  # the oracle sees every plant where it was planted
    _dbt(project, "deps")
    result = _dbt(project, "build", "--exclude-resource-type", "test", "unit_test")
    yield Planted(project, result.stdout + result.stderr, result.returncode, added)


def _text_cells(db: Path) -> Iterator[tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        columns = con.execute(
            "select schema_name, table_name, column_name from duckdb_columns() "
            "where database_name = current_database() and not internal and data_type = 'VARCHAR'"
        ).fetchall()
        for schema, table, column in columns:
            for (value,) in con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall():
                if value is not None:
                    yield f"{schema}.{table}.{column}", value


def test_the_build_with_hostile_rejected_rows_succeeds(planted: Planted) -> None:
    assert planted.returncode == 0, planted.output[-3000:]


def test_every_hostile_row_is_quarantined(planted: Planted) -> None:
    manifest = json.loads((planted.project.lake_dir / "manifest.json").read_text(encoding="utf-8"))
    with duckdb.connect(str(planted.project.duckdb_path), read_only=True) as con:
        counts = dict(
            con.execute("select source_table, count(*) from taglake_marts.fct_quarantined_rows group by 1").fetchall()
        )
        records = [
            r for (r,) in con.execute("select quarantined_record from taglake_marts.fct_quarantined_rows").fetchall()
        ]
    for table, added in planted.lines_added.items():
        assert counts.get(table, 0) == manifest["tables"][table]["expected"]["quarantined"] + added, table
    # Declared non-personal values stay readable; the rest is a length and a keyed hash.
    assert any(
        r.startswith("event_id=; national_id=; event_type=;") and "raw_line=[raw_line len=" in r for r in records
    )
    assert any(r.startswith("event_id=rt-undeclared; national_id=[national_id len=12 #") for r in records)
    assert any(r.startswith("event_id=rt-missing; national_id=[national_id len=10 #") for r in records)


def test_no_planted_value_is_in_the_quarantine_or_any_relation(planted: Planted) -> None:
    leaks = {(where, kind) for where, value in _text_cells(planted.project.duckdb_path) for kind in leaked_kinds(value)}
    assert not leaks, sorted(leaks)


def test_no_planted_value_is_in_the_console_target_or_logs(planted: Planted) -> None:
    assert not leaked_kinds(planted.output)
    for folder in (planted.project.target_path, planted.project.log_path):
        for path in folder.rglob("*"):
            if path.is_file():
                kinds = leaked_kinds(path.read_text(encoding="utf-8", errors="replace"))
                assert not kinds, (str(path), kinds)


def test_a_broken_csv_quote_is_quarantined_or_stops_the_build_without_echoing_it(planted: Planted) -> None:
    customers = _first(planted.project.lake_dir, "crm/customers", ".csv")
    broken = customers.with_name(customers.stem + "_broken.csv")
    header = customers.read_text(encoding="utf-8").splitlines()[0]
    good = customers.read_text(encoding="utf-8").splitlines()[1:40]
    rows = [
        *good[:20],
        f'{NID},"{NAME},1990-01-01,M,{MOBILE},{EMAIL},{ADDRESS},0101,R2,active,2020-01-01,x',
        *good[20:],
    ]
    broken.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    try:
        result = _dbt(planted.project, "run", "--select", "base_crm__customers")
    finally:
        broken.unlink()
    assert not leaked_kinds(result.stdout + result.stderr), result.returncode
    leaks = {(where, kind) for where, value in _text_cells(planted.project.duckdb_path) for kind in leaked_kinds(value)}
    assert not leaks, sorted(leaks)
    for path in planted.project.log_path.rglob("*"):
        if path.is_file():
            assert not leaked_kinds(path.read_text(encoding="utf-8", errors="replace")), str(path)
