"""What lands in the raw zone: each table's file format, columns (in file order) and the defects it can carry.

The column names and order follow docs/raw-zone.md and the source YAMLs under models/staging/.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Format = Literal["csv", "parquet", "jsonl"]
ValueType = Literal["date", "timestamp", "decimal"]

QUARANTINE_KINDS: tuple[str, ...] = (
    "malformed_json",
    "missing_required",
    "wrong_type",
    "invalid_checksum",
    "negative_amount",
    "absurd_amount",
    "unknown_currency",
    "score_out_of_range",
)
COLLAPSED_KINDS: tuple[str, ...] = ("exact_duplicate", "newer_version")
ACCEPTED_KINDS: tuple[str, ...] = ("late_arrival",)


@dataclass(frozen=True)
class RawTable:
    source: str
    table: str
    format: Format
    columns: tuple[str, ...]  # in file order
    key: tuple[str, ...]
    required: tuple[str, ...]  # empty or null → missing_required
    defect_kinds: tuple[str, ...]  # every kind that applies, in manifest order
    typed: dict[str, ValueType] = field(default_factory=dict)  # text columns that must parse (CSV)
    versioned: bool = False  # a change extract: the latest updated_at wins

    @property
    def name(self) -> str:
        return f"{self.source}.{self.table}"

    @property
    def extension(self) -> str:
        return self.format

    def file_name(self, day: date) -> str:
        return f"{self.table}_{day:%Y%m%d}.{self.extension}"

    def partition_dir(self, day: date) -> str:
        return f"raw/{self.source}/{self.table}/year={day:%Y}/month={day:%m}/day={day:%d}"


CUSTOMERS = RawTable(
    source="crm",
    table="customers",
    format="csv",
    columns=(
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
    ),
    key=("national_id",),
    required=("national_id", "name_zh", "birth_date", "customer_status", "updated_at"),
    typed={"birth_date": "date", "customer_since": "date", "updated_at": "timestamp"},
    defect_kinds=("missing_required", "wrong_type", "invalid_checksum", "exact_duplicate", "newer_version"),
    versioned=True,
)

ACCOUNTS = RawTable(
    source="core_banking",
    table="accounts",
    format="csv",
    columns=(
        "account_id",
        "national_id",
        "product_type",
        "product_code",
        "account_status",
        "opened_date",
        "closed_date",
        "balance_twd",
        "credit_limit_twd",
        "updated_at",
    ),
    key=("account_id",),
    required=("account_id", "national_id", "product_type", "account_status", "balance_twd", "updated_at"),
    typed={
        "opened_date": "date",
        "closed_date": "date",
        "balance_twd": "decimal",
        "credit_limit_twd": "decimal",
        "updated_at": "timestamp",
    },
    defect_kinds=(
        "missing_required",
        "wrong_type",
        "negative_amount",
        "absurd_amount",
        "exact_duplicate",
        "newer_version",
    ),
    versioned=True,
)

TRANSACTIONS = RawTable(
    source="cards",
    table="transactions",
    format="parquet",
    columns=(
        "transaction_id",
        "card_id",
        "national_id",
        "transaction_at",
        "amount",
        "currency",
        "merchant_category_code",
        "merchant_country",
        "channel",
        "wallet_type",  # only in files from the schema change on
    ),
    key=("transaction_id",),
    required=("transaction_id", "card_id", "national_id", "transaction_at", "amount", "currency"),
    defect_kinds=(
        "missing_required",
        "negative_amount",
        "absurd_amount",
        "unknown_currency",
        "exact_duplicate",
        "late_arrival",
    ),
)
WALLET_COLUMN = "wallet_type"

APP_EVENTS = RawTable(
    source="digital",
    table="app_events",
    format="jsonl",
    columns=("event_id", "national_id", "event_type", "event_at", "page", "product_code", "device"),
    key=("event_id",),
    required=("event_id", "national_id", "event_type", "event_at"),
    defect_kinds=("malformed_json", "missing_required", "wrong_type", "exact_duplicate", "late_arrival"),
)
DEVICE_KEYS: tuple[str, ...] = ("os", "os_version", "app_version", "device_model")

MODEL_SCORES = RawTable(
    source="ml",
    table="model_scores",
    format="parquet",
    columns=("national_id", "model_name", "model_version", "scored_at", "score"),
    key=("national_id", "model_name", "model_version", "scored_at"),
    required=("national_id", "model_name", "model_version", "scored_at", "score"),
    defect_kinds=("missing_required", "score_out_of_range", "exact_duplicate"),
)

TABLES: tuple[RawTable, ...] = (CUSTOMERS, ACCOUNTS, TRANSACTIONS, APP_EVENTS, MODEL_SCORES)
TABLES_BY_NAME: dict[str, RawTable] = {t.name: t for t in TABLES}
