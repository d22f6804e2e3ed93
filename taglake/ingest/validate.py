"""A record checked against its registry schema the way staging checks the raw row (the base models' reasons).

Staging reads a raw text value trimmed of spaces (SQL `trim`), codes in their declared case, and numbers and dates
with full-width digits and signs read as ASCII (`ascii_numerals`); a blank value is missing. The API applies the
same reading before the schema's rules, so a spelling staging accepts is accepted here and one it would quarantine
is rejected here, with the reason staging would give. A national ID is checked as crm's base model checks it
(letter and nine ASCII digits after `upper(trim())`, valid checksum).

A rejection names the field and the rule, never the value: no validator message (they quote their input) is used.
A field the schema does not declare is rejected without its name (a key can carry personal data too).

A Parquet feed's typed columns (a timestamp, a decimal, a number) are written typed, so their values must be exactly
of the type: a JSON number of the right kind, a `decimal(p,s)` string with at most s decimals (never rounded), a
timestamp string (an offset is applied: the file holds UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from taglake.lake.national_id import is_valid as national_id_is_valid

# What ascii_numerals translates (macros/engines/text_framing.sql): full-width digits, + - . , :
_ASCII_NUMERALS = str.maketrans("０１２３４５６７８９＋－．，：", "0123456789+-.,:")
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})", re.ASCII)
_TIMESTAMP = re.compile(
    r"(\d{4}-\d{1,2}-\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?",
    re.ASCII,
)
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)

RULES = {
    "not_an_object": "the record is not a JSON object",
    "undeclared_field": "the record holds a field the schema does not declare (its name is not repeated)",
    "missing_required": "required, and missing, null or blank",
    "not_text": "must be a JSON string",
    "not_an_object_field": "must be a JSON object",
    "wrong_type": "does not parse as {parses_as}",
    "invalid_code": "outside its declared format or list of values",
    "invalid_national_id": "not a national ID with a valid checksum",
    "retired_field": "no longer in the table's current version; send the current version (docs/ingestion.md)",
}


@dataclass(frozen=True)
class Rejection:
    """Why one record is rejected: the field (a declared name, or None) and the rule. Never a value."""

    field: str | None
    rule: str
    detail: str = ""

    @property
    def reason(self) -> str:
        text = RULES[self.rule].format(parses_as=self.detail or "its type")
        return f"{self.field}: {text}" if self.field else text


def staged_text(value: str) -> str:
    """A raw text value as staging compares it: trimmed of spaces only (SQL trim, not Python's strip())."""
    return value.strip(" ")


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and staged_text(value) == "")


def parses_as(value: str, data_type: str) -> bool:
    """Whether staging's cast_text (ascii_numerals, trim, try_cast) gives a value of `data_type`."""
    text = staged_text(value.translate(_ASCII_NUMERALS))
    t = data_type.strip().lower()
    if t == "date":
        m = _DATE.fullmatch(text)
        return bool(m) and _real_date(m.group(0))
    if t == "timestamp":
        m = _TIMESTAMP.fullmatch(text)
        if not m or not _real_date(m.group(1)):
            return False
        hour, minute, second = (int(g) if g else 0 for g in m.group(2, 3, 4))
        return hour < 24 and minute < 60 and second < 60
    if t.startswith("decimal"):
        if not _DECIMAL.fullmatch(text):
            return False
        digits = re.search(r"\((\d+)\s*,\s*(\d+)\)", t)
        if digits is None:
            return True
        try:
            whole = abs(Decimal(text)).to_integral_value(rounding="ROUND_DOWN")
        except InvalidOperation:
            return False
        return len(str(whole).lstrip("0")) <= int(digits.group(1)) - int(digits.group(2))
    if t in ("double", "float"):
        try:
            float(text)
        except ValueError:
            return False
        return bool(text) and text.lower() not in ("nan", "inf", "-inf", "+inf", "infinity")
    if t in ("int", "integer", "bigint"):
        return bool(re.fullmatch(r"[+-]?\d+", text, re.ASCII))
    return True


# A Parquet feed's typed columns (their registry type is not a plain string): the file holds the type, so the value
# must be exactly one of it. Integer widths as DuckDB reads them.
_INT_RANGES = {"int": 2**31, "integer": 2**31, "bigint": 2**63}


def parse_timestamp(value: str) -> datetime:
    """A timestamp as staging reads it (full-width digits as ASCII, trimmed of spaces), as a naive UTC datetime: an
    offset (`Z`, `+08:00`) is applied, none means UTC. ValueError when it does not parse."""
    text = staged_text(value.translate(_ASCII_NUMERALS))
    m = _TIMESTAMP.fullmatch(text)
    if not m or not _real_date(m.group(1)):
        raise ValueError("not a timestamp")
    y, mo, d = (int(p) for p in m.group(1).split("-"))
    hour, minute, second = (int(g) if g else 0 for g in m.group(2, 3, 4))
    micro = int((m.group(5) or "0")[:6].ljust(6, "0"))
    at = datetime(y, mo, d, hour, minute, second, micro)
    offset = m.group(6)
    if offset and offset != "Z":
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0)))
        at = at.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    return at


def exact_decimal(value: str, data_type: str) -> Decimal:
    """A decimal string as the Parquet column `decimal(p,s)` holds it, exactly: at most p-s whole digits and s
    decimals (no rounding). ValueError otherwise."""
    text = staged_text(value.translate(_ASCII_NUMERALS))
    digits = re.search(r"\((\d+)\s*,\s*(\d+)\)", data_type)
    if not _DECIMAL.fullmatch(text) or digits is None:
        raise ValueError("not a decimal")
    number = Decimal(text)
    precision, scale = int(digits.group(1)), int(digits.group(2))
    if not number.is_finite():
        raise ValueError("not a decimal")
    if len(str(abs(number).to_integral_value(rounding="ROUND_DOWN")).lstrip("0")) > precision - scale:
        raise ValueError("too many digits")
    exact = number.quantize(Decimal(1).scaleb(-scale))
    if exact != number:
        raise ValueError("too many decimals")
    return exact


def _typed_value_ok(value: Any, schema: dict[str, Any]) -> bool:
    """A value of a Parquet feed's typed column: a JSON number of its kind, or a string in its exact form."""
    data_type = str(schema.get("x-taglake-data-type", "string")).strip().lower()
    base = _base_type(schema)
    if base in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if base == "integer":
            limit = _INT_RANGES.get(data_type, 2**63)
            return isinstance(value, int) and -limit <= value < limit
        return value == value and value not in (float("inf"), float("-inf"))
    if not isinstance(value, str):
        return False
    try:
        if schema.get("format") == "decimal":
            exact_decimal(value, data_type)
        elif schema.get("format") == "date-time":
            parse_timestamp(value)
    except (ValueError, InvalidOperation):
        return False
    return True


def _real_date(text: str) -> bool:
    try:
        y, m, d = (int(p) for p in text.split("-"))
        date(y, m, d)
    except ValueError:
        return False
    return y >= 1


def _code_value(value: str, case: str | None) -> str:
    text = staged_text(value)
    return text.upper() if case == "upper" else text.lower() if case == "lower" else text


def _pattern_matches(pattern: str, text: str) -> bool:
    # The YAML's anchored POSIX patterns, as RE2 reads them: `$` is the end of the text, not before a last newline.
    anchored = pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern
    return re.search(anchored, text, re.ASCII) is not None


def _check_field(name: str, value: Any, schema: dict[str, Any], required: bool) -> list[Rejection]:
    if schema.get("x-taglake-content") == "object" or _base_type(schema) == "object":
        if value is None:
            return [Rejection(name, "missing_required")] if required else []
        if not isinstance(value, dict):
            return [Rejection(name, "not_an_object_field")]
        return _check_object(value, schema, prefix=name + ".")
    if _base_type(schema) in ("integer", "number") or schema.get("format") in ("decimal", "date-time"):
        if is_blank(value):
            return [Rejection(name, "missing_required")] if required else []
        if not _typed_value_ok(value, schema):
            return [Rejection(name, "wrong_type", str(schema.get("x-taglake-data-type", "its type")))]
        return []
    if value is not None and not isinstance(value, str):
        return [Rejection(name, "not_text")]
    if is_blank(value):
        return [Rejection(name, "missing_required")] if required else []
    assert isinstance(value, str)
    parses = schema.get("x-taglake-parses-as")
    if parses and not parses_as(value, parses):
        return [Rejection(name, "wrong_type", parses)]
    if schema.get("x-taglake-pii") == "national_id" and not national_id_is_valid(staged_text(value).upper()):
        return [Rejection(name, "invalid_national_id")]
    if schema.get("x-taglake-content") in ("code", "identifier"):
        text = _code_value(value, schema.get("x-taglake-case"))
        allowed = [v for v in schema.get("enum") or () if v is not None]
        if ("pattern" in schema and not _pattern_matches(schema["pattern"], text)) or (allowed and text not in allowed):
            return [Rejection(name, "invalid_code")]
    return []


def _base_type(schema: dict[str, Any]) -> Any:
    t = schema.get("type")
    return next(x for x in t if x != "null") if isinstance(t, list) else t


def _check_object(record: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> list[Rejection]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    found: list[Rejection] = []
    if any(key not in properties for key in record):
        found.append(Rejection(prefix.rstrip(".") or None, "undeclared_field"))
    for name, field_schema in properties.items():
        found.extend(_check_field(prefix + name, record.get(name), field_schema, name in required))
    return found


def check_record(record: Any, schema: dict[str, Any]) -> list[Rejection]:
    """Every reason `record` breaks `schema` (a registry record schema), read as staging reads it; empty if none."""
    if not isinstance(record, dict):
        return [Rejection(None, "not_an_object")]
    return _check_object(record, schema)
