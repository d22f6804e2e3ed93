"""Leak scanner, files: every text file under some folders (dbt's target/ and logs/, exports), line by line.

Matching goes through lookups, not through each canary in turn: one regular expression finds every national-ID,
mobile and e-mail word and each is looked up in a set; one finds every run of letters outside ASCII (names); only
the few substring needles (key material, odd spellings) are a compiled alternation.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from itertools import accumulate
from pathlib import Path

from taglake.privacy.scan.match import (
    DEFAULT_HITS_PER_PLACE,
    NAME_RUN,
    Hit,
    Prepared,
    build_hits,
    iter_words,
    new_salt,
    prepare,
)

BINARY_PROBE_BYTES = 8192
CHUNK_CHARS = 4 << 20  # lines are read in batches of about this many characters
SKIPPED_SUFFIXES = (".duckdb", ".duckdb.wal")  # scan_duckdb reads these
LONG_NAME = 3  # names this long are found inside a run of letters; shorter ones only as the whole run

# JSON writers (dbt's manifest.json, the docs' index.html) escape non-ASCII text as \uXXXX.
_U_ESCAPE = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|\\u([0-9a-f]{4})", re.IGNORECASE)


def _unescape_match(m: re.Match[str]) -> str:
    if m.group(1):
        high, low = int(m.group(1), 16), int(m.group(2), 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    code = int(m.group(3), 16)
    return chr(code) if code >= 0x80 and not 0xD800 <= code <= 0xDFFF else m.group()


def unescape_json_text(line: str) -> str:
    """`line` with JSON \\u escapes of non-ASCII characters decoded (line breaks and other controls stay escaped)."""
    return _U_ESCAPE.sub(_unescape_match, line) if "\\u" in line else line


def iter_files(paths: Iterable[Path], exclude: Iterable[Path] = ()) -> Iterator[Path]:
    """Every file under `paths` (files are taken as they are), sorted, except those under `exclude`."""
    excluded = {p.resolve() for p in exclude}

    def is_excluded(path: Path) -> bool:
        resolved = path.resolve()
        return resolved in excluded or any(parent in excluded for parent in resolved.parents)

    for root in paths:
        if not root.exists():
            raise FileNotFoundError(f"{root}: nothing to scan there")
        if root.is_file():
            if not is_excluded(root):
                yield root
            continue
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not is_excluded(Path(folder, d)))
            for name in sorted(files):
                path = Path(folder, name)
                if path.is_file() and not is_excluded(path):
                    yield path


def is_binary(path: Path) -> bool:
    with path.open("rb") as fh:
        return b"\0" in fh.read(BINARY_PROBE_BYTES)


class _FileMatcher:
    """The lookups for one scan; counts occurrences per (line, group)."""

    def __init__(self, prepared: Prepared) -> None:
        self.prepared = prepared
        needles = sorted(prepared.file_needles, key=lambda n: (-len(n), n))  # longest first: k before its prefix
        self.needles = re.compile("|".join(map(re.escape, needles)), re.IGNORECASE) if needles else None
        self.short_names = {n: g for n, g in prepared.names.items() if len(n) < LONG_NAME}
        self.long_names = {n: g for n, g in prepared.names.items() if len(n) >= LONG_NAME}
        self.long_lengths = sorted({len(n) for n in self.long_names})

    def _needle_gid(self, text: str) -> int | None:
        gid = self.prepared.file_needles.get(text.lower())
        if gid is None:  # case folding that lower() does not mirror
            gid = next(
                (g for n, g in self.prepared.file_needles.items() if re.fullmatch(re.escape(n), text, re.I)), None
            )
        return gid

    def _name_gids(self, run: str) -> Iterator[int]:
        if run in self.short_names:
            yield self.short_names[run]
        for length in self.long_lengths:
            if length > len(run):
                break
            for i in range(len(run) - length + 1):
                gid = self.long_names.get(run[i : i + length])
                if gid is not None:
                    yield gid

    def chunk(self, lines: list[str]) -> Iterator[tuple[int, int]]:
        """(line index in the chunk, gid) for every occurrence of a canary in `lines`."""
        text = "".join(lines)
        starts = list(accumulate(map(len, lines), initial=0))

        def index(offset: int) -> int:
            return bisect_right(starts, offset) - 1

        if self.prepared.words:
            for offset, word in iter_words(text):
                gid = self.prepared.words.get(word)
                if gid is not None:
                    yield index(offset), gid
        if self.needles:
            for m in self.needles.finditer(text):
                gid = self._needle_gid(m.group())
                if gid is not None:
                    yield index(m.start()), gid
        if self.prepared.names and (not text.isascii() or "\\u" in text):
            decoded = [unescape_json_text(line) for line in lines]
            name_text = "".join(decoded)
            name_starts = list(accumulate(map(len, decoded), initial=0))
            for m in NAME_RUN.finditer(name_text):
                for gid in self._name_gids(m.group()):
                    yield bisect_right(name_starts, m.start()) - 1, gid


def scan_files(
    paths: Iterable[Path],
    canaries: Mapping[str, Iterable[str]] | Prepared,
    *,
    exclude: Iterable[Path] = (),
    salt: bytes | None = None,
    hits_per_place: int = DEFAULT_HITS_PER_PLACE,
) -> list[Hit]:
    """Clear canaries in every text file under `paths` (recursively), reported per line.

    Text is read as UTF-8 (undecodable bytes replaced). Skipped: binary files (a NUL byte in the first 8 KiB),
    DuckDB files (scan_duckdb covers them), anything under `exclude` (say, the key file and the raw zone).
    Per kind: national IDs and mobiles as whole words, e-mail addresses as whole addresses, all in any spelling
    taglake.privacy.patterns knows (case, full-width, separators, +886 prefixes); names of 3 characters or more
    inside any run of non-ASCII letters, shorter names only as a whole run (`"王明"`, `,王明,`), JSON \\u escapes
    decoded; key material and odd spellings as case-insensitive substrings. A hit's count is the occurrences on
    that line; past `hits_per_place` lines per file and kind, the rest are summed into one hit for the file.
    """
    prepared = canaries if isinstance(canaries, Prepared) else prepare(canaries)
    salt = salt if salt is not None else new_salt()
    matcher = _FileMatcher(prepared)
    found: dict[tuple[str, int], int] = {}
    place_of: dict[str, str] = {}
    for path in iter_files(paths, exclude):
        if path.name.endswith(SKIPPED_SUFFIXES) or is_binary(path):
            continue
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            first = 1
            while lines := fh.readlines(CHUNK_CHARS):
                for i, gid in matcher.chunk(lines):
                    where = f"file {path}:{first + i}"
                    place_of[where] = f"file {path}"
                    found[(where, gid)] = found.get((where, gid), 0) + 1
                first += len(lines)
    return build_hits(found, prepared, salt, place_of=place_of, hits_per_place=hits_per_place)
