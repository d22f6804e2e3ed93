"""The keyed pseudonym, in Python: the reference the SQL macros (macros/privacy/tokenize.sql) are tested against.

token = lowercase hex SHA-256(k_outer ‖ lowercase hex SHA-256(k_inner ‖ normalised value)), over UTF-8 text.
"""

from __future__ import annotations

import hashlib
import re

PII_CLASSES: tuple[str, ...] = ("national_id", "name", "mobile", "email", "address", "birth_date", "free_text")

_NON_DIGITS = re.compile(r"[^0-9]")


def normalize(value: str, pii_class: str) -> str:
    """The form a value is tokenized in; SQL's trim() removes spaces only, and so does this."""
    if pii_class == "national_id":
        return value.strip(" ").upper()
    if pii_class == "mobile":
        digits = _NON_DIGITS.sub("", value)
        return "0" + digits[3:] if digits.startswith("886") and len(digits) == 12 else digits
    if pii_class == "email":
        return value.strip(" ").lower()
    if pii_class in PII_CLASSES:
        return value.strip(" ")
    raise ValueError(f"unknown personal-data class {pii_class!r}; known: {', '.join(PII_CLASSES)}")


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def tokenize(value: str | None, pii_class: str, k_inner: str, k_outer: str) -> str | None:
    """The token of a value, or None for a blank one (as in SQL)."""
    if value is None:
        return None
    normalised = normalize(value, pii_class)
    if not normalised:
        return None
    return _sha256_hex(k_outer + _sha256_hex(k_inner + normalised))
