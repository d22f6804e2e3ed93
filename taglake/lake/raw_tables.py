"""What lands in the raw zone: each table's file format, columns (in file order) and the defects it can carry.

Columns, keys, required columns and parse types come from the source YAMLs under models/staging/ (taglake.core.sources),
the one declaration of each raw table; what is kept here is what only the generator needs: the defects it injects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Literal

from taglake.core.sources import project_var, source_tables

Format = Literal["csv", "parquet", "jsonl"]
ValueType = Literal["date", "timestamp", "decimal"]



@cache
def quarantine_kinds() -> tuple[str, ...]:
    """The defects that quarantine a row: the reject reasons dbt_project.yml declares (`vars.reject_reasons`, the one
    list; the base models' case arms emit them). Read on first use."""
    return tuple(project_var("reject_reasons"))


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


# Each raw table the generator writes: its name in the source YAML, the defects it gives it, whether it is a change
# extract. The schemas are read from the source YAML on first use (raw_table), never when this module is imported.
_DECLARED: dict[str, dict[str, Any]] = {
    "CUSTOMERS": {
        "name": "crm.customers",
        "defect_kinds": (
            "missing_required",
            "wrong_type",
            "invalid_checksum",
            "exact_duplicate",
            "newer_version",
        ),
        "versioned": True,
    },
    "ACCOUNTS": {
        "name": "core_banking.accounts",
        "defect_kinds": (
            "missing_required",
            "wrong_type",
            "negative_amount",
            "absurd_amount",
            "exact_duplicate",
            "newer_version",
        ),
        "versioned": True,
    },
    "TRANSACTIONS": {
        "name": "cards.transactions",
        "defect_kinds": (
            "missing_required",
            "negative_amount",
            "absurd_amount",
            "unknown_currency",
            "exact_duplicate",
            "late_arrival",
        ),
    },
    "APP_EVENTS": {
        "name": "digital.app_events",
        "defect_kinds": (
            "malformed_json",
            "missing_required",
            "wrong_type",
            "exact_duplicate",
            "late_arrival",
        ),
    },
    "MODEL_SCORES": {
        "name": "ml.model_scores",
        "defect_kinds": (
            "missing_required",
            "score_out_of_range",
            "exact_duplicate",
        ),
    },
    "MODEL_OUTCOMES": {
        "name": "ml.model_outcomes",
        "defect_kinds": (
            "missing_required",
            "label_out_of_range",
            "exact_duplicate",
        ),
    },
}
WALLET_COLUMN = "wallet_type"  # the column the card feed gains part way through its history


@cache
def raw_table(name: str) -> RawTable:
    """The raw table `source.table` (e.g. `crm.customers`), read from the source YAML on first use."""
    declared = next(d for d in _DECLARED.values() if d["name"] == name)
    return _from_yaml(name, defect_kinds=declared["defect_kinds"], versioned=declared.get("versioned", False))


def raw_table_list() -> tuple[RawTable, ...]:
    """Every raw table the generator writes, in manifest order."""
    return tuple(raw_table(d["name"]) for d in _DECLARED.values())


def __getattr__(attr: str) -> Any:
    """CUSTOMERS, ACCOUNTS, TRANSACTIONS, APP_EVENTS, MODEL_SCORES, MODEL_OUTCOMES, TABLES and TABLES_BY_NAME, read from the source
    YAML when first asked for (module attributes, PEP 562), so importing this module reads no file."""
    if attr in _DECLARED:
        return raw_table(_DECLARED[attr]["name"])
    if attr == "TABLES":
        return raw_table_list()
    if attr == "TABLES_BY_NAME":
        return {t.name: t for t in raw_table_list()}
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
