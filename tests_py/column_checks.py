"""The column checks a model's YAML declares in its `column_values` test (tests/generic/column_values.sql): a
model's not_null and accepted_values checks in one query."""

from __future__ import annotations

from typing import Any


def column_values_arguments(model: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a model YAML node's column_values test (empty when it has none)."""
    for test in model.get("data_tests") or []:
        if isinstance(test, dict) and "column_values" in test:
            return test["column_values"].get("arguments") or {}
    return {}


def accepted_values_of(model: dict[str, Any], column: str) -> list[Any]:
    """The values a model YAML node's column_values test accepts for `column` (an entry may be {values, where})."""
    entry = column_values_arguments(model).get("accepted_values", {})[column]
    return entry["values"] if isinstance(entry, dict) else entry


def not_null_columns(kwargs: dict[str, Any]) -> set[str]:
    """The columns a column_values test's arguments (a manifest test's kwargs, or YAML) hold not null."""
    return {e if isinstance(e, str) else e["column"] for e in kwargs.get("not_null") or []}
