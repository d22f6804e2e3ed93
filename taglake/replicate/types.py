"""A contract's data_type as a SQLAlchemy type, the same for the Oracle replica and for PostgreSQL.

What Oracle makes of each (SQLAlchemy's Oracle dialect): varchar → VARCHAR2(4000 CHAR) (VARCHAR2(256 CHAR) in a
unique key), integer → INTEGER, bigint → NUMBER(19), double → BINARY_DOUBLE, boolean → SMALLINT (0/1; Oracle before
23ai has no BOOLEAN column), date → DATE, timestamp → DATE, decimal(p, s) → NUMBER(p, s).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import oracle

# Oracle's VARCHAR2 limit under the default MAX_STRING_SIZE = STANDARD: 4000 bytes, whatever the CHAR length says.
MAX_TEXT = 4000
# A key column's text (tokens are 64 hex characters, codes shorter): short enough for Oracle's index key limit
# (about 6,400 bytes for an 8 KB block) with several key columns of up to 4 bytes a character.
MAX_KEY_TEXT = 256

_DECIMAL = re.compile(r"(?:decimal|numeric)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)")


class UnmappedType(ValueError):
    """A contract type with no replica type (the message names the type only)."""


def sa_type(data_type: str, *, key: bool = False) -> sa.types.TypeEngine[Any]:
    """The replica's type of a contract's data_type (`key`: a column of the unique key)."""
    t = " ".join(data_type.strip().lower().split())
    if t in ("varchar", "text", "string", "char", "character varying") or t.startswith(("varchar(", "char(")):
        return sa.String(MAX_KEY_TEXT if key else MAX_TEXT)
    if t in ("integer", "int", "int4", "smallint", "tinyint"):
        return sa.Integer()
    if t in ("bigint", "int8", "long"):
        return sa.BigInteger()
    if t in ("double", "double precision", "float8", "float", "real", "float4"):
        # Oracle: BINARY_DOUBLE (IEEE 754, as the source holds it), so a value reads back equal and a rerun finds
        # no change; FLOAT(126), SQLAlchemy's default, is decimal and would not round-trip every double.
        return sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle")
    if t in ("boolean", "bool"):
        return sa.Boolean()
    if t == "date":
        return sa.Date()
    if t in ("timestamp", "timestamp without time zone", "datetime"):
        return sa.DateTime()
    m = _DECIMAL.fullmatch(t)
    if m:
        return sa.Numeric(int(m.group(1)), int(m.group(2) or 0))
    raise UnmappedType(f"data_type {t} has no replica type (taglake/replicate/types.py)")


def normalise(value: Any, type_: sa.types.TypeEngine[Any]) -> Any:
    """One Python value per column type, whatever the engine returned (DuckDB, PostgreSQL, Oracle's NUMBER and
    DATE), so that rows from the source and the replica compare equal when they hold the same thing. An empty
    string is NULL, as Oracle has it."""
    if value is None:
        return None
    if isinstance(type_, sa.Boolean):
        return bool(value)
    if isinstance(type_, sa.Date):
        if isinstance(value, dt.datetime):
            return value.date()
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if isinstance(type_, sa.DateTime):
        return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    if isinstance(type_, sa.Double | sa.Float):
        return float(value)
    if isinstance(type_, sa.Numeric):
        return Decimal(str(value))
    if isinstance(type_, sa.Integer):
        return int(value)
    # Oracle stores an empty string as NULL: so does the replica on every engine, and so the comparison reads it.
    return str(value) or None
