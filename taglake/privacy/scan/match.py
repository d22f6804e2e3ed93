"""Leak scanner, matching core: what a hit is, the form each kind of canary is matched in, and fingerprints.

A canary is a clear value (a national ID, a mobile, an e-mail address, a name, key material). Canaries that mean
the same thing form one *group*, identified by (kind, canonical form): `0912-345-678` and `+886 912 345 678` are
one mobile, `Bob@Example.com` and `bob@example.com` one address. Each group is matched one way only, so a cell or
line is never counted twice for the same group:

- **words**: national IDs, mobiles and e-mail addresses in a recognised spelling are found as whole words inside
  any text (see `iter_words`) and compared in canonical form, through a set (or a join in DuckDB);
- **cells**: names (and mobiles spelled some other way) are matched as whole values only: equal to a relation cell
  (trimmed of spaces). Files have no cells: there a name is looked up among the runs of non-ASCII letters (see
  scan_files), and a mobile in another spelling is a needle;
- **needles**: key material, and national IDs or addresses in an unrecognised spelling, are found as substrings
  (case-insensitive).

Nothing here keeps or prints a clear value beyond the lookup structures; a hit carries only a fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from taglake.privacy import patterns
from taglake.privacy.tokens import normalize

KINDS: tuple[str, ...] = ("national_id", "mobile", "email", "name", "key_material")
FINGERPRINT_CHARS = 8
DEFAULT_HITS_PER_PLACE = 20


@dataclass(frozen=True)
class Hit:
    """Clear personal data or key material found somewhere; never the value itself.

    `where` is `relation <schema>.<table>.<column>` or `file <path>:<line>` (`file <path>` for a summary).
    `count` is the number of cells (relations) or occurrences (a file line) holding the value.
    `fingerprint` is the first 8 hex digits of an HMAC-SHA256 of the value's canonical form under a salt drawn for
    each scan: equal within one report (so hits of one value can be correlated), meaningless outside it, and not
    reversible by enumerating the few hundred million possible IDs or mobiles as an unkeyed hash would be.
    A summary hit (more values in one place than a report lists) has the fingerprint `+N more`.
    """

    where: str
    kind: str
    count: int
    fingerprint: str


def new_salt() -> bytes:
    return secrets.token_bytes(16)


def fingerprint(kind: str, canonical_value: str, salt: bytes) -> str:
    digest = hmac.new(salt, f"{kind}\x00{canonical_value}".encode(), hashlib.sha256).hexdigest()
    return digest[:FINGERPRINT_CHARS]


def canonical(value: str, kind: str) -> str:
    """The form a canary group is known by: for a national ID, mobile or e-mail written whole in any spelling the
    patterns know, their canonical form (taglake.privacy.patterns); otherwise the project's tokenising
    normalisation (taglake.privacy.tokens) of the NFKC form."""
    if kind == "key_material":
        return value.strip().lower()
    if kind not in KINDS:
        raise ValueError(f"unknown canary kind {kind!r}; known: {', '.join(KINDS)}")
    if kind in WORD_KINDS:
        stripped = value.strip()
        whole = [f for f in patterns.find(stripped, (kind,)) if f.start == 0 and f.end == len(stripped)]
        if whole:
            return whole[0].canonical
        value = unicodedata.normalize("NFKC", value)
    return normalize(value, kind)


# --- words: national IDs, mobiles, e-mail addresses inside any text --------------------------------------------
# The shapes are taglake.privacy.patterns' (the one definition the privacy guard and the quarantine use too), found
# in any spelling: the text is NFKC-normalised and case-folded first, so full-width `Ａ１２３…` and `＋８８６` count.
# A national ID or mobile counts only as a whole word: not preceded or followed by an ASCII letter or digit. This
# keeps out a 64-hex token that happens to hold `a123456789`, or the card reference `C12345678901`, which starts
# with a valid-looking ID (with a million customers, plain substring matching would flag thousands of those).
# An e-mail address is the maximal run of address characters around an `@`, compared whole: `jimbob@x.com` is
# not a leak of `bob@x.com`.
WORD_KINDS: tuple[str, ...] = ("national_id", "mobile", "email")
ID_SHAPE = patterns.PY_ID
MOBILE_SHAPE = patterns.PY_MOBILE
EMAIL_SHAPE = patterns.PY_EMAIL

# The same rules for DuckDB, which cannot NFKC: full-width forms are translated to ASCII and the text lower-cased,
# then the shapes apply as in Python. RE2 has no look-around: a word is captured with whatever letters and digits
# follow it, and a capture that is not exactly an ID or a mobile canonicalises to NULL, which matches nothing.
FULL_WIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
HALF_WIDTH = "".join(chr(c) for c in range(0x21, 0x7F)) + " "
SQL_WORD_PATTERN = rf"(?:^|[^0-9a-z])((?:{ID_SHAPE}|{MOBILE_SHAPE})[0-9a-z]*)"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_folded(expr: str) -> str:
    """SQL: the VARCHAR `expr` with full-width ASCII forms (and the ideographic space) as ASCII, lower-cased."""
    return f"lower(translate({expr}, {_sql_literal(FULL_WIDTH)}, {_sql_literal(HALF_WIDTH)}))"


def sql_word_keys(expr: str) -> str:
    """SQL: the list of canonical words (IDs, mobiles, addresses) in the VARCHAR expression `expr`."""
    mobile = "'0' || right(regexp_replace(x, '[^0-9]', '', 'g'), 9)"
    word = (
        f"case when regexp_full_match(x, {_sql_literal(ID_SHAPE)}) "
        "then upper(regexp_replace(x, '[^0-9a-z]', '', 'g')) "
        f"when regexp_full_match(x, {_sql_literal(MOBILE_SHAPE)}) then {mobile} end"
    )
    folded = sql_folded(expr)
    words = f"list_transform(regexp_extract_all({folded}, {_sql_literal(SQL_WORD_PATTERN)}, 1), lambda x: {word})"
    emails = (
        f"case when contains({expr}, '@') or contains({expr}, '＠') then "
        f"list_transform(regexp_extract_all({folded}, {_sql_literal(EMAIL_SHAPE)}), "
        "lambda x: replace(x, ' ', '')) else []::varchar[] end"
    )
    return f"list_distinct(list_concat({words}, {emails}))"


def iter_words(text: str) -> Iterator[tuple[int, str]]:
    """(offset, canonical form) of every national-ID, mobile and e-mail word in `text`, in any spelling; the same
    words as `sql_word_keys` finds, plus IDs and mobiles that are the local part of an address."""
    for offset, _kind, canon in patterns.iter_canonical(text, WORD_KINDS):
        yield offset, canon


def words_of(text: str) -> set[str]:
    return {word for _, word in iter_words(text)}


# --- preparing canaries ------------------------------------------------------------------------------------------
NAME_RUN = re.compile(r"[^\W\d_A-Za-z]+")  # letters outside ASCII: Han (BMP or not), and other scripts


@dataclass
class Prepared:
    """Canaries arranged for matching; `groups[gid]` is (kind, canonical form)."""

    groups: list[tuple[str, str]] = field(default_factory=list)
    words: dict[str, int] = field(default_factory=dict)  # canonical word -> gid
    cells: dict[str, int] = field(default_factory=dict)  # whole relation cell -> gid
    needles: dict[str, int] = field(default_factory=dict)  # lower-case substring -> gid
    names: dict[str, int] = field(default_factory=dict)  # name made of NAME_RUN letters -> gid (files)
    file_needles: dict[str, int] = field(default_factory=dict)  # needles, every key canary, odd names and mobiles

    def __repr__(self) -> str:  # never print canaries
        return f"Prepared(groups={len(self.groups)})"

    def gid(self, kind: str, value: str, index: dict[tuple[str, str], int]) -> int:
        key = (kind, canonical(value, kind))
        if key not in index:
            index[key] = len(self.groups)
            self.groups.append(key)
        return index[key]


def prepare(canaries: Mapping[str, Iterable[str]]) -> Prepared:
    """Sort canaries into words, cells and needles (see the module docstring). Unknown kinds raise ValueError."""
    prepared = Prepared()
    index: dict[tuple[str, str], int] = {}
    key_needles: dict[str, int] = {}
    for kind, values in canaries.items():
        if kind not in KINDS:
            raise ValueError(f"unknown canary kind {kind!r}; known: {', '.join(KINDS)}")
        for value in values:
            if not value or not value.strip():
                continue
            gid = prepared.gid(kind, value, index)
            norm = prepared.groups[gid][1]
            if kind == "key_material":
                key_needles[norm] = gid
            elif kind == "name":
                prepared.cells[norm] = gid  # relation cells are compared trimmed
                if NAME_RUN.fullmatch(norm):
                    prepared.names[norm] = gid
                else:
                    prepared.file_needles[norm.lower()] = gid
            elif norm in words_of(value):
                prepared.words[norm] = gid
            elif kind == "mobile":
                prepared.cells[value.strip(" ")] = gid
                prepared.file_needles[value.strip().lower()] = gid
            else:  # a national ID or address in a spelling no word rule recognises
                prepared.needles[norm.lower()] = gid
    prepared.file_needles.update(prepared.needles)
    # Files match needles with one alternation, longest first, so k_outer is found as itself and not also as its
    # own first 16 hex digits. A relation cell is tested against each needle, so a key canary that contains another
    # would count the cell twice: there the shorter needle finds both.
    prepared.file_needles.update(key_needles)
    for needle, gid in key_needles.items():
        if not any(other != needle and other in needle for other in key_needles):
            prepared.needles[needle] = gid
    return prepared


def build_hits(
    found: Mapping[tuple[str, int], int],
    prepared: Prepared,
    salt: bytes,
    *,
    place_of: Mapping[str, str] | None = None,
    hits_per_place: int = DEFAULT_HITS_PER_PLACE,
) -> list[Hit]:
    """Hits from counts per (where, gid). At most `hits_per_place` hits per place and kind (the most frequent
    values first); the rest become one summary hit, at `place_of[where]` when given (a file for its lines)."""
    by_place: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
    for (where, gid), count in found.items():
        kind, norm = prepared.groups[gid]
        place = place_of[where] if place_of else where
        by_place.setdefault((place, kind), []).append((count, where, fingerprint(kind, norm, salt)))
    hits: list[Hit] = []
    for (place, kind), rows in by_place.items():
        rows.sort(key=lambda r: (-r[0], where_order(r[1]), r[2]))
        hits.extend(Hit(where, kind, count, fp) for count, where, fp in rows[:hits_per_place])
        rest = rows[hits_per_place:]
        if rest:
            hits.append(Hit(place, kind, sum(r[0] for r in rest), f"+{len(rest)} more"))
    return sort_hits(hits)


_LINE_SUFFIX = re.compile(r"(.*):([0-9]+)")


def where_order(where: str) -> tuple[str, int]:
    """Sort key for a place: `file a:10` after `file a:9`."""
    m = _LINE_SUFFIX.fullmatch(where)
    return (m.group(1), int(m.group(2))) if m else (where, -1)


def sort_hits(hits: Iterable[Hit]) -> list[Hit]:
    return sorted(hits, key=lambda h: (where_order(h.where), KINDS.index(h.kind), -h.count, h.fingerprint))
