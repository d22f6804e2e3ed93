"""Hostile raw values in codes and free text: personal values in several spellings, planted into every free-text
field and into code and identifier fields of every feed, never reach a relation outside the quarantine record.

The oracle is independent of the SQL patterns: a plain substring search, after NFKC and case folding, of every
planted spelling and of each value's canonical form, in every text cell of every relation the build wrote.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from taglake.core.project import Project
from taglake.lake.generate import generate_lake
from taglake.ops.local_build import build
from taglake.privacy.keys import init_key

pytestmark = [pytest.mark.dbt, pytest.mark.redteam]

NATIONAL_ID = ("Q271828182", "q271828182", "Ｑ２７１８２８１８２", "Q271-828-182", "q271.828.182", "Q 271 828 182")
MOBILE = (
    "0987654321",
    "0987-654-321",
    "0987.654.321",
    "(09)8765-4321",
    "+886 987 654 321",
    "+886-987-654-321",
    "０９８７６５４３２１",
    "0987 654 321",
)
EMAIL = (
    "leak.probe@example.org",
    "LEAK.PROBE@EXAMPLE.ORG",
    "Leak.Probe@Example.Org",
    "ｌｅａｋ．ｐｒｏｂｅ＠ｅｘａｍｐｌｅ．ｏｒｇ",
)
SPELLINGS = (*NATIONAL_ID, *MOBILE, *EMAIL)
# What a leak would show whatever the spelling: the values without separators, NFKC'd and case-folded.
CANONICAL = ("q271828182", "0987654321", "886987654321", "leak.probe@example.org")

# Free text carries a value whole, in a query string, and inside prose. A number written with spaces inside prose
# ("call 0912 345 678 now") is recognised by the shared shapes alone (pii_text_matches), not by the folding here.
WHOLE, QUERY, PROSE = "{}", "/search?q={}", "note {} end"
SPACED = {"Q 271 828 182", "0987 654 321"}

# Code and identifier fields, per feed (a JSON object's key as `object.key`). Currency is left out: an unknown
# currency is quarantined first, as unknown_currency.
CODE_FIELDS = {
    "crm.customers": ("gender", "home_branch", "risk_grade", "customer_status"),
    "core_banking.accounts": ("account_id", "product_type", "product_code", "account_status"),
    "cards.transactions": (
        "transaction_id",
        "card_id",
        "merchant_category_code",
        "merchant_country",
        "channel",
        "wallet_type",
    ),
    "digital.app_events": (
        "event_id",
        "event_type",
        "product_code",
        "device.os",
        "device.os_version",
        "device.app_version",
    ),
    "ml.model_scores": ("model_name", "model_version"),
}
FREE_TEXT_FIELDS = ("page", "device.device_model")
PER_CODE_FIELD = 3  # spellings planted into each code field (rotating, so that every spelling is used)


@dataclass
class Planted:
    code_rows: dict[str, int] = field(default_factory=dict)  # source.table → rows with a planted code
    free_text_lines: dict[str, int] = field(default_factory=dict)  # free-text field → lines planted


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _code_plan() -> dict[str, list[tuple[str, str]]]:
    """source.table → (field, spelling) for each row to plant, every spelling used at least once."""
    plan: dict[str, list[tuple[str, str]]] = {}
    n = 0
    for table, fields in CODE_FIELDS.items():
        for name in fields:
            for _ in range(PER_CODE_FIELD):
                plan.setdefault(table, []).append((name, SPELLINGS[n % len(SPELLINGS)]))
                n += 1
    return plan


def _landed_file(lake: Path, table: str, pattern: str, *, last: bool = False) -> Path:
    """The first (or last) landing day's file of a raw table."""
    source, name = table.split(".")
    files = sorted((lake / "raw" / source / name).glob(f"year=*/month=*/day=*/{pattern}"))
    assert files, f"no {pattern} for {table}"
    return files[-1 if last else 0]


def _set(record: dict, name: str, value: str) -> None:
    if "." in name:
        outer, inner = name.split(".")
        record[outer] = {**(record.get(outer) or {}), inner: value}
    else:
        record[name] = value


def _plant_csv(path: Path, plants: list[tuple[str, str]]) -> int:
    """Append one row a plant, each a copy of a landed row (cycling) with the planted value: the customer, account
    or transaction itself stays accepted, so only the planted copy is at stake."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    added = []
    for n, (name, value) in enumerate(plants):
        row = list(body[n % len(body)])
        row[header.index(name)] = value
        added.append(row)
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *body, *added])
    return len(plants)


def _plant_parquet(path: Path, plants: list[tuple[str, str]]) -> int:
    """Append one row a plant, as _plant_csv does."""
    table = pq.read_table(path)
    rows = table.to_pylist()
    added = []
    for n, (name, value) in enumerate(plants):
        assert name in table.column_names, f"{path.name} has no column {name}"
        added.append({**rows[n % len(rows)], name: value})
    pq.write_table(table.from_pylist([*rows, *added], schema=table.schema), path)
    return len(plants)


def _plant_jsonl(path: Path, plants: list[tuple[str, str]]) -> int:
    """Append one event a plant, each a copy of a landed event (cycling) under a fresh event ID."""
    lines = path.read_text(encoding="utf-8").splitlines()
    added = []
    for n, (name, value) in enumerate(plants):
        record = json.loads(lines[n % len(lines)])
        record["event_id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"planted/{n}"))
        _set(record, name, value)
        added.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    path.write_text("\n".join([*lines, *added]) + "\n", encoding="utf-8")
    return len(plants)


def _plant(lake: Path) -> Planted:
    planted = Planted()
    plan = _code_plan()
    planted.code_rows["crm.customers"] = _plant_csv(_landed_file(lake, "crm.customers", "*.csv"), plan["crm.customers"])
    planted.code_rows["core_banking.accounts"] = _plant_csv(
        _landed_file(lake, "core_banking.accounts", "*.csv"), plan["core_banking.accounts"]
    )
    planted.code_rows["cards.transactions"] = _plant_parquet(
        _landed_file(lake, "cards.transactions", "*.parquet", last=True), plan["cards.transactions"]
    )
    planted.code_rows["ml.model_scores"] = _plant_parquet(
        _landed_file(lake, "ml.model_scores", "*.parquet"), plan["ml.model_scores"]
    )
    events = _landed_file(lake, "digital.app_events", "*.jsonl")
    texts = {
        name: [
            (name, context.format(spelling))
            for spelling in SPELLINGS
            for context in (WHOLE, QUERY, PROSE)
            if not (spelling in SPACED and context == PROSE)
        ]
        for name in FREE_TEXT_FIELDS
    }
    planted.code_rows["digital.app_events"] = _plant_jsonl(
        events, plan["digital.app_events"] + [p for name in FREE_TEXT_FIELDS for p in texts[name]]
    ) - sum(len(texts[name]) for name in FREE_TEXT_FIELDS)
    planted.free_text_lines = {name: len(texts[name]) for name in FREE_TEXT_FIELDS}
    return planted


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Project, Planted]]:
    """A small clean lake with personal values planted into code and free-text fields, built locally."""
    work = tmp_path_factory.mktemp("hostile_text")
    project = Project.locate(
        lake_dir=work / "lake",
        duckdb_path=work / "taglake.duckdb",
        artifacts_dir=work / "artifacts",
        key_file=work / "secrets" / "masking_keys.csv",
    )
    generate_lake(project.lake_dir, customers=150, days=3, seed=5, defect_rate=0.0, progress=False)
    init_key(project.key_file)  # `taglake keys init`: nothing else makes a key
    planted = _plant(project.lake_dir)
    build(project, target="local")
    yield project, planted


def _text_cells(con: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, str, str]]:
    """(relation, column, value) for every non-null cell of every relation the build wrote, as text; the
    quarantine record aside (the quarantine's own redaction is tested with it)."""
    columns = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema like 'taglake%' and column_name <> 'quarantined_record' "
        "order by table_schema, table_name, ordinal_position"
    ).fetchall()
    for schema, table, column in columns:
        relation = f'"{schema}"."{table}"'
        for (value,) in con.execute(
            f'select distinct cast("{column}" as varchar) from {relation} where "{column}" is not null'
        ).fetchall():
            yield f"{schema}.{table}", column, value


def test_no_planted_value_leaves_staging(hostile_build: tuple[Project, Planted]) -> None:
    project, _ = hostile_build
    needles = sorted({_fold(s) for s in SPELLINGS} | set(CANONICAL))
    compact = re.compile(r"[\s.()\-]")
    leaks: set[str] = set()
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        for relation, column, value in _text_cells(con):
            folded = _fold(value)
            squeezed = compact.sub("", folded)
            if any(n in folded for n in needles) or any(c in squeezed for c in CANONICAL):
                leaks.add(f"{relation}.{column}")
    assert not leaks, "planted personal values found in: " + ", ".join(sorted(leaks))


def test_codes_with_planted_values_are_quarantined_as_invalid_code(hostile_build: tuple[Project, Planted]) -> None:
    project, planted = hostile_build
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        found = dict(
            con.execute(
                "select source_table, count(*) from taglake_marts.fct_quarantined_rows "
                "where reject_reason = 'invalid_code' group by source_table"
            ).fetchall()
        )
        records = [
            r
            for (r,) in con.execute(
                "select quarantined_record from taglake_marts.fct_quarantined_rows "
                "where reject_reason = 'invalid_code' and source_table <> 'digital.app_events'"
            ).fetchall()
        ]
    assert found == planted.code_rows
    # A delimited record keeps a non-personal value only within its declaration (the digital feed's JSON line
    # is redacted by pattern instead).
    assert records and all("[invalid_code]" in r for r in records)


def test_free_text_with_planted_values_is_redacted_not_dropped(hostile_build: tuple[Project, Planted]) -> None:
    project, planted = hostile_build
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        pages, models = con.execute(
            "select count(*) filter (where page = '[redacted]'), count(*) filter (where device_model = '[redacted]') "
            "from taglake_staging.stg_digital__app_events"
        ).fetchone()
    assert pages == planted.free_text_lines["page"]
    assert models == planted.free_text_lines["device.device_model"]
