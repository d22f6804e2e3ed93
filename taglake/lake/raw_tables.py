"""What lands in the raw zone: each table's file format, columns (in file order) and the defects it can carry.

Columns, keys, required columns and parse types come from the source YAMLs under models/staging/ (taglake.core.sources),
the one declaration of each raw table; what is kept here is what only the generator needs: the defects it injects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from taglake.core.sources import source_tables

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


def _value_type(parses_as: str) -> ValueType:
    kind = parses_as.split("(")[0].strip()
    if kind not in ("date", "timestamp", "decimal"):
        raise ValueError(f"parses_as {parses_as!r}: the generator knows date, timestamp and decimal(p, s)")
    return kind  # type: ignore[return-value]


def _from_yaml(name: str, *, defect_kinds: tuple[str, ...], versioned: bool = False) -> RawTable:
    """A raw table's schema as the source YAML declares it, with the defects the generator gives it."""
    declared = source_tables()[name]
    fields = declared.file_fields
    return RawTable(
        source=declared.source,
        table=declared.table,
        format=declared.format,  # type: ignore[arg-type]
        columns=tuple(c.name for c in fields),
        key=declared.key,
        required=tuple(c.name for c in fields if c.required),
        typed={c.name: _value_type(c.parses_as) for c in fields if c.parses_as and declared.format == "csv"},
        defect_kinds=defect_kinds,
        versioned=versioned,
    )


CUSTOMERS = _from_yaml(
    "crm.customers",
    defect_kinds=(
        "missing_required",
        "wrong_type",
        "invalid_checksum",
        "exact_duplicate",
        "newer_version",
    ),
    versioned=True,
)
ACCOUNTS = _from_yaml(
    "core_banking.accounts",
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
TRANSACTIONS = _from_yaml(
    "cards.transactions",
    defect_kinds=(
        "missing_required",
        "negative_amount",
        "absurd_amount",
        "unknown_currency",
        "exact_duplicate",
        "late_arrival",
    ),
)
WALLET_COLUMN = "wallet_type"  # the column the card feed gains part way through its history

APP_EVENTS = _from_yaml(
    "digital.app_events",
    defect_kinds=(
        "malformed_json",
        "missing_required",
        "wrong_type",
        "exact_duplicate",
        "late_arrival",
    ),
)
DEVICE_KEYS: tuple[str, ...] = ("os", "os_version", "app_version", "device_model")

MODEL_SCORES = _from_yaml(
    "ml.model_scores",
    defect_kinds=(
        "missing_required",
        "score_out_of_range",
        "exact_duplicate",
    ),
)

TABLES: tuple[RawTable, ...] = (CUSTOMERS, ACCOUNTS, TRANSACTIONS, APP_EVENTS, MODEL_SCORES)
TABLES_BY_NAME: dict[str, RawTable] = {t.name: t for t in TABLES}
