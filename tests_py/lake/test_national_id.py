import duckdb
import pytest

from taglake.lake import national_id as nid

# the letter codes as published (domain notes), written out independently of the module
OFFICIAL = "A10 B11 C12 D13 E14 F15 G16 H17 I34 J18 K19 L20 M21 N22 O35 P23 Q24 R25 S26 T27 U28 V29 W32 X30 Y31 Z33"


def test_known_valid_id_passes():
    assert nid.is_valid("A123456789")
    assert nid.checksum_digit("A", "12345678") == 9


def test_letter_codes_match_the_official_table():
    expected = {item[0]: int(item[1:]) for item in OFFICIAL.split()}
    assert expected == nid.LETTER_CODES
    assert len(nid.LETTER_CODES) == 26


@pytest.mark.parametrize("letter", list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
def test_each_letter_has_exactly_one_valid_check_digit(letter):
    valid = [d for d in range(10) if nid.is_valid(f"{letter}23456780"[:9] + str(d))]
    assert valid == [nid.checksum_digit(letter, "23456780")]


@pytest.mark.parametrize("wrong", [d for d in range(10) if d != 9])
def test_a_wrong_check_digit_fails(wrong):
    assert not nid.is_valid(f"A12345678{wrong}")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "a123456789",  # lower-case letter
        "A12345678",  # too short
        "A1234567890",  # too long
        "1123456789",  # no letter
        "AB23456789",  # two letters
        " A123456789",  # whitespace is not trimmed
        "A123456789 ",
        "A12345678\uff19",  # full-width digit
        "\uff21123456789",  # full-width letter
        "A1234-6789",
        123456789,
    ],
)
def test_malformed_values_are_invalid(value):
    assert not nid.is_valid(value)


def test_checksum_digit_rejects_bad_input():
    with pytest.raises(ValueError, match="letter"):
        nid.checksum_digit("1", "12345678")
    with pytest.raises(ValueError, match="eight digits"):
        nid.checksum_digit("A", "1234567")


def test_sql_builds_ids_that_python_validates_and_breaks_them_on_request():
    con = duckdb.connect()
    letters = list(nid.LETTER_CODES)
    valid_sql = nid.sql_national_id("letter", "sex", "serial")
    broken_sql = nid.sql_national_id("letter", "sex", "serial", "1 + serial % 9")
    rows = con.execute(
        f"""
        select {valid_sql}, {broken_sql}
        from (select {letters}[1 + (range % 26)::int] as letter, 1 + range % 2 as sex,
                     (range * 7919) % 10000000 as serial from range(2000))
        """
    ).fetchall()
    assert all(nid.is_valid(good) for good, _ in rows)
    assert not any(nid.is_valid(bad) for _, bad in rows)
    assert all(good[:9] == bad[:9] for good, bad in rows)
