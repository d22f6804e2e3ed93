"""Taiwan national ID (身分證字號): validation in Python and the SQL that builds valid IDs in DuckDB.

An ID is one upper-case letter (the place of first registration) and nine digits: the sex digit, seven serial
digits and a check digit. Write the letter's code as two digits d1 d2; then
d1×1 + d2×9 + n1×8 + n2×7 + n3×6 + n4×5 + n5×4 + n6×3 + n7×2 + n8×1 + n9×1 must be divisible by 10.
"""

from __future__ import annotations

import re

LETTER_CODES: dict[str, int] = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "I": 34, "J": 18, "K": 19,
    "L": 20, "M": 21, "N": 22, "O": 35, "P": 23, "Q": 24, "R": 25, "S": 26, "T": 27, "U": 28, "V": 29,
    "W": 32, "X": 30, "Y": 31, "Z": 33,
}  # fmt: skip

# weights of n1 … n8; n9 (the check digit) has weight 1
DIGIT_WEIGHTS: tuple[int, ...] = (8, 7, 6, 5, 4, 3, 2, 1)

_SHAPE = re.compile(r"[A-Z][0-9]{9}")


def letter_weight(letter: str) -> int:
    """The letter's contribution d1×1 + d2×9 to the weighted sum."""
    code = LETTER_CODES[letter]
    return code // 10 + (code % 10) * 9


def checksum_digit(letter: str, digits: str) -> int:
    """The check digit n9 for a letter and the first eight digits n1 … n8."""
    if letter not in LETTER_CODES:
        raise ValueError(f"not a national-ID letter: {letter!r}")
    if len(digits) != 8 or not digits.isascii() or not digits.isdigit():
        raise ValueError(f"expected the first eight digits, got {digits!r}")
    total = letter_weight(letter) + sum(int(d) * w for d, w in zip(digits, DIGIT_WEIGHTS, strict=True))
    return (10 - total % 10) % 10


def is_valid(nid: str | None) -> bool:
    """True for an upper-case letter + nine digits whose checksum holds; no whitespace or case folding."""
    if not isinstance(nid, str) or not _SHAPE.fullmatch(nid):
        return False
    return checksum_digit(nid[0], nid[1:9]) == int(nid[9])


# ---- SQL (DuckDB) ---------------------------------------------------------------------------------------


def sql_letter_weight(letter_sql: str) -> str:
    """SQL expression: the letter's contribution (d1×1 + d2×9) mod 10 for a one-letter VARCHAR expression."""
    whens = " ".join(f"when '{ltr}' then {letter_weight(ltr) % 10}" for ltr in LETTER_CODES)
    return f"(case {letter_sql} {whens} end)"


def sql_check_digit(letter_sql: str, sex_sql: str, serial_sql: str) -> str:
    """SQL expression: the check digit for a letter, the sex digit (1/2) and a seven-digit serial (0 … 9999999).

    ``sex_sql`` and ``serial_sql`` are integer expressions; the result is an integer 0 … 9.
    """
    parts = [sql_letter_weight(letter_sql), f"({sex_sql}) * {DIGIT_WEIGHTS[0]}"]
    for pos, weight in enumerate(DIGIT_WEIGHTS[1:]):
        div = 10 ** (6 - pos)
        parts.append(f"((({serial_sql}) // {div}) % 10) * {weight}")
    return f"((10 - ({' + '.join(parts)}) % 10) % 10)"


def sql_national_id(letter_sql: str, sex_sql: str, serial_sql: str, check_offset_sql: str = "0") -> str:
    """SQL expression building the ID text; a non-zero ``check_offset_sql`` (1 … 9) breaks the checksum."""
    check = sql_check_digit(letter_sql, sex_sql, serial_sql)
    return (
        f"({letter_sql} || ({sex_sql})::varchar || lpad(({serial_sql})::varchar, 7, '0')"
        f" || ((({check}) + ({check_offset_sql})) % 10)::varchar)"
    )
