"""Read a generated raw zone back with plain Python (csv, json, pyarrow), independently of the generator's SQL."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from taglake.lake import national_id
from taglake.lake.raw_tables import (
    ACCOUNTS,
    APP_EVENTS,
    CUSTOMERS,
    MODEL_OUTCOMES,
    MODEL_SCORES,
    TRANSACTIONS,
    RawTable,
)
from taglake.lake.reference import ABSURD_AMOUNT_TWD, FX_TWD_PER_UNIT, ISO_4217_CODES, SCORE_MAX, SCORE_MIN

# What the generator's output may hold, as the tests expect it (the generator draws from richer tables in
# taglake.lake.reference; these lists are only the tests' expectations).
PRODUCT_TYPES: tuple[str, ...] = ("deposit", "credit_card", "loan", "wealth", "insurance")
ACCOUNT_STATUSES: tuple[str, ...] = ("active", "dormant", "closed")
CUSTOMER_STATUSES: tuple[str, ...] = ("active", "closed")
CHANNELS: tuple[str, ...] = ("pos", "online", "contactless", "recurring")
WALLET_TYPES: tuple[str, ...] = ("apple_pay", "google_pay", "samsung_pay", "none")
APP_EVENT_TYPES: tuple[str, ...] = ("login", "page_view", "product_view", "logout")
DEVICE_KEYS: tuple[str, ...] = ("os", "os_version", "app_version", "device_model")

PARTITION = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})$")


@dataclass(frozen=True)
class Record:
    landing: date
    value: Any  # dict for CSV/Parquet; the raw line (str) for JSON lines


def table_dir(lake: Path, spec: RawTable) -> Path:
    return lake / "raw" / spec.source / spec.table


def partition_files(lake: Path, spec: RawTable) -> list[tuple[date, Path]]:
    """(landing date, file) for every file of the table, in date order."""
    out = []
    for path in sorted(table_dir(lake, spec).rglob("*")):
        if path.is_file():
            rel = path.parent.relative_to(table_dir(lake, spec)).as_posix()
            m = PARTITION.fullmatch(rel)
            assert m, f"file outside a year=/month=/day= partition: {path}"
            out.append((date(int(m[1]), int(m[2]), int(m[3])), path))
    return out


def read_file(spec: RawTable, path: Path) -> list[Any]:
    if spec.format == "csv":
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    if spec.format == "parquet":
        return pq.read_table(path).to_pylist()
    text = path.read_bytes().decode("utf-8")
    return text.split("\n")[:-1] if text else []


def read_records(lake: Path, spec: RawTable) -> list[Record]:
    return [Record(day, value) for day, path in partition_files(lake, spec) for value in read_file(spec, path)]


def csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as f:
        return next(csv.reader(f))


def sha256_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ---- parsers: what "parses as its type" means ----------------------------------------------------------------


def parses_as(kind: str, text: str) -> bool:
    try:
        if kind == "date":
            return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)) and bool(date.fromisoformat(text))
        if kind == "timestamp":
            return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", text)) and bool(
                datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
            )
        return bool(re.fullmatch(r"-?\d+(\.\d+)?", text)) and Decimal(text).is_finite()
    except (ValueError, InvalidOperation):
        return False


def iso_utc(value) -> datetime | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# ---- classification: every record gets the defects it shows ---------------------------------------------------


def csv_defects(spec, row: dict) -> list[str]:
    found = []
    if any(row[c] == "" for c in spec.required):
        found.append("missing_required")
    if any(row[c] != "" and not parses_as(kind, row[c]) for c, kind in spec.typed.items()):
        found.append("wrong_type")
    if spec is CUSTOMERS and row["national_id"] and not national_id.is_valid(row["national_id"]):
        found.append("invalid_checksum")
    if spec is ACCOUNTS and parses_as("decimal", row["balance_twd"]):
        balance = Decimal(row["balance_twd"])
        if balance < 0:
            found.append("negative_amount")
        if balance >= ABSURD_AMOUNT_TWD:
            found.append("absurd_amount")
    return found


def transaction_defects(row: dict) -> list[str]:
    found = []
    if any(row[c] is None for c in TRANSACTIONS.required):
        found.append("missing_required")
    amount, currency = row["amount"], row["currency"]
    if amount is not None and amount < 0:
        found.append("negative_amount")
    if (
        amount is not None
        and currency in FX_TWD_PER_UNIT
        and amount * Decimal(FX_TWD_PER_UNIT[currency]) >= (ABSURD_AMOUNT_TWD)
    ):
        found.append("absurd_amount")
    if currency is not None and currency not in ISO_4217_CODES:
        found.append("unknown_currency")
    return found


def app_event_defects(line: str) -> list[str]:
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return ["malformed_json"]
    if not isinstance(event, dict):
        return ["malformed_json"]
    found = []
    if any(event.get(k) is None for k in APP_EVENTS.required):
        found.append("missing_required")
    if event.get("event_at") is not None and iso_utc(event["event_at"]) is None:
        found.append("wrong_type")
    return found


def score_defects(row: dict) -> list[str]:
    found = []
    if any(row[c] is None for c in MODEL_SCORES.required):
        found.append("missing_required")
    if row["score"] is not None and not SCORE_MIN <= row["score"] <= SCORE_MAX:
        found.append("score_out_of_range")
    return found


def outcome_defects(row: dict) -> list[str]:
    found = []
    if any(row[c] is None for c in MODEL_OUTCOMES.required):
        found.append("missing_required")
    if row["label"] is not None and row["label"] not in (0, 1):
        found.append("label_out_of_range")
    return found


def defects_of(spec, value) -> list[str]:
    if spec.format == "csv":
        return csv_defects(spec, value)
    if spec is TRANSACTIONS:
        return transaction_defects(value)
    if spec is APP_EVENTS:
        return app_event_defects(value)
    if spec is MODEL_OUTCOMES:
        return outcome_defects(value)
    return score_defects(value)


def clean_values(lake: Path, spec: RawTable) -> list[Any]:
    """The records without any defect (parsed JSON objects for app events)."""
    values = [rec.value for rec in read_records(lake, spec) if not defects_of(spec, rec.value)]
    return [json.loads(v) for v in values] if spec is APP_EVENTS else values


def rank_auc(scored: list[tuple[float, int]]) -> float:
    """AUC of (score, label 0/1) pairs by the rank-sum (Mann-Whitney) form, tied scores at their average rank:
    computed here independently of any SQL."""
    ordered = sorted(s for s, _ in scored)
    first: dict[float, int] = {}
    count: dict[float, int] = {}
    for position, s in enumerate(ordered, start=1):
        first.setdefault(s, position)
        count[s] = count.get(s, 0) + 1
    positives = sum(label for _, label in scored)
    negatives = len(scored) - positives
    rank_sum = sum(first[s] + (count[s] - 1) / 2 for s, label in scored if label == 1)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
