"""taglake.core.text_tables: terminal tables aligned by display width (wide Chinese and full-width characters)."""

from __future__ import annotations

import re
import unicodedata

from taglake.core.text_tables import format_table


def _columns(char: str) -> int:
    """A terminal's width of one character, as the test reckons it independently of the module."""
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _cells(line: str) -> list[tuple[int, int, str]]:
    """(first terminal column, column after the last, text) of each cell of a table line (cells apart by 2+ spaces)."""
    found = []
    for match in re.finditer(r"\S+(?: \S+)*", line):
        start = sum(_columns(c) for c in line[: match.start()])
        found.append((start, start + sum(_columns(c) for c in match.group()), match.group()))
    return found


def test_mixed_chinese_and_ascii_values_line_up_column_by_column() -> None:
    rows = [
        ("VAL_HNW", "高資產客戶", 12),
        ("LC_NEW", "新戶", 1_234),
        ("CARD_TRAVEL_LOVER", "旅遊 lover", 7),
        ("ＦＵＬＬ", "café", 5),
        ("DIG_ACTIVE", "數位活躍ＡＢ", 99_999),
    ]
    lines = format_table(["tag_code", "客群標籤", "customers"], rows).splitlines()
    assert len(lines) == 2 + len(rows)
    rule = _cells(lines[1])
    assert len(rule) == 3
    for line in (lines[0], *lines[2:]):
        cells = _cells(line)
        assert len(cells) == 3, line
        # text columns start where their rule starts; the numbers end where theirs ends
        assert cells[0][0] == rule[0][0] and cells[1][0] == rule[1][0], line
        if line is not lines[0]:
            assert cells[2][1] == rule[2][1], line
    # the rule is as wide as the widest value: 數位活躍ＡＢ takes 12 columns
    assert rule[1][1] - rule[1][0] == 12


def test_a_combining_mark_takes_no_column() -> None:
    lines = format_table(["n"], [("cafe\u0301",), ("abc",)]).splitlines()
    assert _cells(lines[1])[0][1] == 4  # the rule: as wide as café shows, not as its five code points
