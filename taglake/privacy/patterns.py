"""The one definition of what personal data looks like: national ID, mobile, e-mail and street-address shapes, and
the column names the privacy guard refuses.

Two renderings of the same shapes:

- **Python** (`find`, `redact`, `matches`): each character of the text is NFKC-normalised and case-folded first
  (full-width `Ａ１２３` is `a123`, `＠` is `@`, `＋` is `+`, the ideographic space a space), then matched with
  lower-case ASCII regexes. Spans are reported in the original text.
- **SQL** (`SQL_PATTERNS`, rendered into macros/privacy/pii_patterns.sql): engines cannot NFKC, so the character
  classes spell both cases and the full-width forms. The strings use only what RE2 (DuckDB), Java/Joni (Athena)
  and POSIX ERE (Redshift) agree on: no `(?:`, no look-around, no backslash (Redshift string literals eat it), no
  quote; `[.]` for a literal dot.

A national ID or a mobile counts only as a whole word: not preceded or followed by an ASCII (or full-width) letter
or digit, so a 64-hex token holding `a123456789` or the card reference `C12345678901` is no hit. Inside a number,
spaces, dashes, dots and brackets may separate digits (`0912-345-678`, `0912.345.678`, `(09)12 345 678`); a mobile
may carry `+886`, `886`, `00886`, `(+886)` and `+886 (0)`. An e-mail address is the run of address characters
around an `@` (spaces beside the `@` allowed); masked forms (`***@example.com`, `*******678`) are no hit. A street
address is a city or county, a district (區, 鄉, 鎮, 市), a road or street (路, 街, 道) and a house number (號), in
that order, without a comma, semicolon or double quote between them.

`python -m taglake.privacy.patterns --write` regenerates macros/privacy/pii_patterns.sql from this module;
`--check` fails when the committed file differs (tests_py/privacy/test_pii_patterns.py does the same).
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

KINDS: tuple[str, ...] = ("national_id", "mobile", "email", "address")
# SQL redacts the longer shapes first, so an e-mail whose local part is an ID is one `[email]`.
REDACTION_ORDER: tuple[str, ...] = ("email", "address", "national_id", "mobile")

# Column names that look like personal data (the guard refuses them outside the vault). Python regexes on the
# lower-cased column name.
NAME_PATTERNS: tuple[str, ...] = (
    "^(national_id|nid|id_no|idno|identity_no|citizen_id|ssn)$",
    "^(name|name_zh|name_en|full_name|first_name|last_name|given_name|family_name|customer_name|holder_name)$",
    "^(mobile|mobile_no|phone|phone_no|tel|telephone|cellphone)$",
    "^(email|e_mail|email_address)$",
    "^(address|addr|home_address|mailing_address|street)$",
    "^(birth_date|date_of_birth|dob|birthday)$",
    "^(raw_line|k_inner|k_outer)$",
)

# The 22 cities and counties (臺 and 台 both, and the counties merged into cities since 2010).
CITIES: tuple[str, ...] = (
    "[臺台]北[市縣]",
    "新北市",
    "桃園[市縣]",
    "[臺台]中[市縣]",
    "[臺台]南[市縣]",
    "高雄[市縣]",
    "基隆市",
    "新竹[市縣]",
    "嘉義[市縣]",
    "苗栗縣",
    "彰化縣",
    "南投縣",
    "雲林縣",
    "屏東縣",
    "宜蘭縣",
    "花蓮縣",
    "[臺台]東縣",
    "澎湖縣",
    "金門縣",
    "連江縣",
)

# --- Python: lower-case ASCII after NFKC and casefold ------------------------------------------------------------
_SEP = " .()\\-\u2010-\u2015\u2212"  # space, dot, brackets, dashes (ASCII and Unicode)
_PY_NOT_WORD_BEFORE = r"(?<![0-9a-z])"
_PY_NOT_WORD_AFTER = r"(?![0-9a-z])"
# Nine digits as written: whole, 3-3-3, 4-5 or 5-4 (never a letter code before a date: `R5 2024-01-01`).
PY_ID = (
    rf"[a-z][{_SEP}]?(?:[0-9]{{3}}[{_SEP}]?[0-9]{{3}}[{_SEP}]?[0-9]{{3}}"
    rf"|[0-9]{{4}}[{_SEP}][0-9]{{5}}|[0-9]{{5}}[{_SEP}][0-9]{{4}})"
)
PY_MOBILE = rf"(?:\(?(?:\+|00)?886\)?[{_SEP}]{{0,2}}(?:\(0\)[{_SEP}]{{0,2}})?|\(?0)9(?:[{_SEP}]{{0,2}}[0-9]){{8}}"
PY_EMAIL = r"[a-z0-9._%+\-]+ ?@ ?[a-z0-9\-]+(?:\.[a-z0-9\-]+)+"
_PY_ADDRESS = rf"(?:{'|'.join(CITIES)}) {{0,2}}[^,;\"]{{1,6}}[區鄉鎮市][^,;\"]{{0,30}}[路街道][^,;\"]{{0,30}}號"

PY_PATTERNS: Mapping[str, str] = {
    "national_id": _PY_NOT_WORD_BEFORE + PY_ID + _PY_NOT_WORD_AFTER,
    "mobile": _PY_NOT_WORD_BEFORE + PY_MOBILE + _PY_NOT_WORD_AFTER,
    "email": PY_EMAIL,
    "address": _PY_ADDRESS,
}

# --- SQL: both cases and full-width spelled out ------------------------------------------------------------------
_ALNUM = "A-Za-z0-9Ａ-Ｚａ-ｚ０-９"
_SQL_SEP = " 　.．()（）\u2010-\u2015\u2212－-"  # the hyphen last: a literal in every engine's bracket
_SQL_LETTER = "[A-Za-zＡ-Ｚａ-ｚ]"
_SQL_DIGIT = "[0-9０-９]"


def _digit(d: str) -> str:
    return f"[{d}{chr(ord(d) + 0xFEE0)}]"  # the ASCII digit or its full-width form


def _digits(s: str) -> str:
    return "".join(_digit(d) for d in s)


_SQL_BEFORE = f"(^|[^{_ALNUM}])"
_SQL_AFTER = f"([^{_ALNUM}]|$)"
_SQL_ID = (
    f"{_SQL_LETTER}[{_SQL_SEP}]?({_SQL_DIGIT}{{3}}[{_SQL_SEP}]?{_SQL_DIGIT}{{3}}[{_SQL_SEP}]?{_SQL_DIGIT}{{3}}"
    f"|{_SQL_DIGIT}{{4}}[{_SQL_SEP}]{_SQL_DIGIT}{{5}}|{_SQL_DIGIT}{{5}}[{_SQL_SEP}]{_SQL_DIGIT}{{4}})"
)
_SQL_MOBILE = (
    f"(([(（]?([+＋]|{_digits('00')})?{_digits('886')}[)）]?[{_SQL_SEP}]{{0,2}}"
    f"([(（]{_digit('0')}[)）][{_SQL_SEP}]{{0,2}})?)|[(（]?{_digit('0')})"
    f"{_digit('9')}([{_SQL_SEP}]{{0,2}}{_SQL_DIGIT}){{8}}"
)
_SQL_EMAIL_CHARS = f"{_ALNUM}._%+＿．％＋－-"
_SQL_DOMAIN_CHARS = f"{_ALNUM}－-"
_SQL_EMAIL = f"[{_SQL_EMAIL_CHARS}]+[ 　]?[@＠][ 　]?[{_SQL_DOMAIN_CHARS}]+([.．][{_SQL_DOMAIN_CHARS}]+)+"
_SQL_NOT_ADDRESS_BREAK = '[^,;"，；＂]'
_SQL_ADDRESS = (
    f"({'|'.join(CITIES)})[ 　]{{0,2}}{_SQL_NOT_ADDRESS_BREAK}{{1,6}}[區鄉鎮市]"
    f"{_SQL_NOT_ADDRESS_BREAK}{{0,30}}[路街道]{_SQL_NOT_ADDRESS_BREAK}{{0,30}}號"
)

# The parts the in-engine leak scan (taglake.privacy.scan.engines) builds its word rule from: a national ID or a
# mobile as a word (the character before it, when there is one, is no letter or digit), and the separators a number
# may hold. The same shapes as SQL_PATTERNS, never a second copy.
SQL_ALNUM = _ALNUM
SQL_SEPARATORS = _SQL_SEP
SQL_WORD_BEFORE = _SQL_BEFORE
SQL_ID_SHAPE = _SQL_ID
SQL_MOBILE_SHAPE = _SQL_MOBILE


def class_characters(bracket: str) -> str:
    """Every character a bracket expression's body (`SQL_SEPARATORS`) stands for, its ranges spelled out."""
    out: list[str] = []
    i = 0
    while i < len(bracket):
        if i + 2 < len(bracket) and bracket[i + 1] == "-":
            out.extend(chr(c) for c in range(ord(bracket[i]), ord(bracket[i + 2]) + 1))
            i += 3
        else:
            out.append(bracket[i])
            i += 1
    return "".join(dict.fromkeys(out))


SQL_PATTERNS: Mapping[str, str] = {
    "national_id": _SQL_BEFORE + _SQL_ID + _SQL_AFTER,
    "mobile": _SQL_BEFORE + _SQL_MOBILE + _SQL_AFTER,
    "email": _SQL_EMAIL,
    "address": _SQL_ADDRESS,
}

_COMPILED: dict[str, re.Pattern[str]] = {}
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _compiled(kind: str) -> re.Pattern[str]:
    if kind not in _COMPILED:
        _COMPILED[kind] = re.compile(PY_PATTERNS[kind])
    return _COMPILED[kind]


# --- Python API --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Found:
    """A personal-data shape in a text: its kind, its span in the original text, and its canonical form."""

    kind: str
    start: int
    end: int
    canonical: str

    def __repr__(self) -> str:  # never print the value
        return f"Found({self.kind}, {self.start}:{self.end})"


def fold(text: str) -> tuple[str, list[int] | None]:
    """`text` with each character NFKC-normalised and case-folded, and for each folded character the offset of the
    original character it came from (plus one final entry: the original length); None when that is the identity
    (ASCII text, only lower-cased)."""
    if text.isascii():
        return text.lower(), None
    parts: list[str] = []
    origin: list[int] = []
    at = 0
    for m in _NON_ASCII.finditer(text):
        parts.append(text[at : m.start()].lower())
        origin.extend(range(at, m.start()))
        for i in range(m.start(), m.end()):
            folded = unicodedata.normalize("NFKC", text[i]).casefold()
            parts.append(folded)
            origin.extend([i] * len(folded))
        at = m.end()
    parts.append(text[at:].lower())
    origin.extend(range(at, len(text) + 1))
    return "".join(parts), origin


def canonical(kind: str, folded_match: str) -> str:
    """The canonical form of a match (in folded text): an ID upper-case without separators, a mobile `09` + 8
    digits, an e-mail lower-case without spaces, an address without spaces and with 臺 for 台."""
    if kind == "national_id":
        return re.sub(r"[^0-9a-z]", "", folded_match).upper()
    if kind == "mobile":
        return "0" + re.sub(r"[^0-9]", "", folded_match)[-9:]
    if kind == "email":
        return re.sub(r"\s", "", folded_match)
    if kind == "address":
        return re.sub(r"\s", "", folded_match).replace("台", "臺")
    raise ValueError(f"unknown personal-data shape {kind!r}; known: {', '.join(KINDS)}")


def find(text: str, kinds: tuple[str, ...] = KINDS) -> list[Found]:
    """Every personal-data shape in `text`, any spelling (case, full-width, separators, prefixes), in text order."""
    folded, origin = fold(text)
    found: list[Found] = []
    for kind in kinds:
        for m in _compiled(kind).finditer(folded):
            start, end = (origin[m.start()], origin[m.end() - 1] + 1) if origin else (m.start(), m.end())
            found.append(Found(kind, start, end, canonical(kind, m.group())))
    found.sort(key=lambda f: (f.start, -f.end, KINDS.index(f.kind)))
    return found


def matches(text: str) -> bool:
    """True when `text` holds any personal-data shape."""
    return bool(find(text))


def redact(text: str) -> str:
    """`text` with every personal-data shape replaced by `[<kind>]` (overlapping shapes: the first, longest)."""
    out: list[str] = []
    at = 0
    for f in find(text):
        if f.start < at:
            continue
        out.append(text[at : f.start])
        out.append(f"[{f.kind}]")
        at = f.end
    out.append(text[at:])
    return "".join(out)


# --- what is never personal data: opaque identifiers ------------------------------------------------------------
# A canonical UUID (lower-case hex, 8-4-4-4-12) is an opaque identifier: about one in a few hundred thousand random
# UUIDs holds a run that has a mobile's shape (`…-886930055472`, +886 9…). The privacy guard spares a value only when
# the whole value has this shape and only in a column the source YAML declares `content: identifier`; free text is
# never spared.
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

# --- what is never personal data: dbt's own identifiers ---------------------------------------------------------
# A dbt node's unique_id is built from the project's own names (`test.taglake.not_null_x.e123456789`: a data test's
# ends in a 10-hex hash, which can have a national ID's shape) and a run's invocation_id is a UUID: neither can
# carry a value from the data, and cosmos's watcher finds each node's status by its unique_id in dbt's JSON log. So
# a JSON redaction spares them, only under those keys and only when the whole value has that shape.
DBT_ID_KEYS: Mapping[str, re.Pattern[str]] = {
    "unique_id": re.compile(
        r"(?:model|test|seed|snapshot|source|unit_test|analysis|operation|exposure|metric|semantic_model|saved_query)"
        r"(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?:\.[0-9a-f]{10})?",
        re.ASCII,
    ),
    "invocation_id": re.compile(UUID, re.ASCII),
}


def is_dbt_identifier(key: str | None, value: str) -> bool:
    """True when `value`, found under JSON key `key`, is one of dbt's own identifiers (DBT_ID_KEYS)."""
    shape = DBT_ID_KEYS.get(key or "")
    return shape is not None and shape.fullmatch(value) is not None


def redact_json(value: object, key: str | None = None) -> object:
    """A decoded JSON value with every string (and every object key) redacted, except dbt's own identifiers under
    their keys (DBT_ID_KEYS). Decoding first also catches what JSON escapes (`\\uff21` is a full-width `Ａ`)."""
    if isinstance(value, str):
        return value if is_dbt_identifier(key, value) else redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_json(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v, key) for v in value]
    return value


def iter_canonical(text: str, kinds: tuple[str, ...] = KINDS) -> Iterator[tuple[int, str, str]]:
    """(offset, kind, canonical form) of every shape in `text`."""
    for f in find(text, kinds):
        yield f.start, f.kind, f.canonical


# --- the generated dbt macros ------------------------------------------------------------------------------------
MACRO_PATH = Path("macros") / "privacy" / "pii_patterns.sql"


def _jinja_string(value: str) -> str:
    return "'" + value + "'"


def render_macros() -> str:
    """The text of macros/privacy/pii_patterns.sql."""
    for kind, pattern in SQL_PATTERNS.items():
        for bad in ("'", "\\", "(?"):
            if bad in pattern:
                raise ValueError(f"SQL pattern {kind} holds {bad!r}, which some engine reads differently")
    for pattern in NAME_PATTERNS:
        if "'" in pattern or "\\" in pattern:
            raise ValueError("a name pattern holds a quote or backslash")
    kinds = ",\n        ".join(f"{_jinja_string(k)}: {_jinja_string(SQL_PATTERNS[k])}" for k in KINDS)
    names = ",\n        ".join(_jinja_string(p) for p in NAME_PATTERNS)
    order = ", ".join(_jinja_string(k) for k in REDACTION_ORDER)
    return f"""{{#- GENERATED by `python -m taglake.privacy.patterns --write` from taglake/privacy/patterns.py, the one
    definition of what personal data looks like. Do not edit: change the module and regenerate
    (tests_py/privacy/test_pii_patterns.py fails when this file and the module differ). -#}}

{{#- Personal-data shape → SQL regex (RE2, Java and POSIX alike: both cases and full-width forms spelled out,
    since no engine can NFKC). National IDs and mobiles only as whole words. -#}}
{{% macro pii_content_patterns() %}}
    {{{{- return({{
        {kinds}
    }}) -}}}}
{{% endmacro %}}


{{#- A whole value that is an opaque identifier (a canonical UUID), never personal data in a column the source
    YAML declares `content: identifier` (the privacy guard). -#}}
{{% macro opaque_identifier_pattern() %}}
    {{{{- return({_jinja_string("^" + UUID + "$")}) -}}}}
{{% endmacro %}}


{{#- Column names (Python regexes on the lower-cased name) that look like personal data. -#}}
{{% macro pii_name_patterns() %}}
    {{{{- return([
        {names}
    ]) -}}}}
{{% endmacro %}}


{{#- A boolean SQL expression: `expr` (text) holds any personal-data shape. -#}}
{{% macro pii_text_matches(expr) %}}
    {{%- set tests = [] -%}}
    {{%- for kind, pattern in pii_content_patterns().items() -%}}
        {{%- do tests.append(regex_matches(expr, pattern)) -%}}
    {{%- endfor -%}}
    {{{{- return('(' ~ tests | join(' or ') ~ ')') -}}}}
{{% endmacro %}}


{{#- `expr` (text) with every personal-data shape replaced by `[<kind>]`. A whole-word match takes its neighbouring
    separator with it; each shape is replaced twice, so two shapes sharing one separator are both caught. -#}}
{{% macro pii_text_redacted(expr) %}}
    {{%- set state = namespace(text=expr) -%}}
    {{%- set patterns = pii_content_patterns() -%}}
    {{%- for kind in [{order}] -%}}
        {{%- set pattern = patterns[kind] -%}}
        {{%- for pass in range(2 if kind in ('national_id', 'mobile') else 1) -%}}
            {{%- set state.text = regex_replace_all(state.text, pattern, '[' ~ kind ~ ']') -%}}
        {{%- endfor -%}}
    {{%- endfor -%}}
    {{{{- return(state.text) -}}}}
{{% endmacro %}}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m taglake.privacy.patterns",
        description="Write or check macros/privacy/pii_patterns.sql, generated from taglake/privacy/patterns.py.",
    )
    parser.add_argument("--project-dir", type=Path, default=Path("."), help="the dbt project (default: .)")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="write the macro file")
    mode.add_argument("--check", action="store_true", help="fail when the committed macro file differs")
    args = parser.parse_args(argv)
    path = args.project_dir / MACRO_PATH
    text = render_macros()
    if args.write:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    current = path.read_text(encoding="utf-8") if path.exists() else None
    if current != text:
        print(
            f"{path}: differs from taglake/privacy/patterns.py; run python -m taglake.privacy.patterns --write",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
