"""Plain-text tables for the terminal, aligned by display width: a wide character (East Asian Wide or Fullwidth,
e.g. 客群標籤 or ＡＢＣ) takes two columns of a terminal, a combining mark none, so 客群標籤 values line up with
ASCII ones."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from typing import Any


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def display_width(text: str) -> int:
    """The columns `text` takes on a terminal: 2 for a wide or full-width character (unicodedata's East Asian
    Width W or F), 0 for a combining mark or a zero-width format character, 1 for the rest."""
    width = 0
    for char in text:
        if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _pad(text: str, width: int, *, right: bool) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns left-aligned, numbers right-aligned, one header rule; widths are display widths."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([display_width(c), *(display_width(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float | Decimal) or r[i] is None for r in rows)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [_pad(v, w, right=num) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out)
