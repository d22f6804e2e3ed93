"""Feed variants: rewrite a generated lake in place the way real source systems land their files.

Each function takes a lake made by `taglake generate` (LAKE/raw/<source>/<table>/year=/month=/day=/<file>) and one
raw table (`source.table`), rewrites some of its files and records what it did in LAKE/manifest.json under
`feed_variants`. Two families:

- **loadable** (`crlf_line_endings`, `byte_order_mark`, `fullwidth_digits`): the same records, written differently.
  The build must load them exactly as the plain files, so the manifest's counts stay true and
  `fct_source_reconciliation` must still match them.
- **not loadable as is** (`empty_extract`, `parquet_column_type`, `out_of_range_partition`, `unreadable_file`): the
  build must stop with a clear error naming the file (the pre-flight, taglake.lake.preflight) or flag the day as
  incomplete; the manifest's counts no longer describe what a build could load (`reconciliation: inexact`).

The hostile-input suite calls these functions; docs/raw-zone.md ("Feed variants") says what happens to each.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from taglake.core.sources import SourceTable, source_tables

BOM = b"\xef\xbb\xbf"
PARTITION = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})$")
# ASCII digits and the signs a number or date is written with → their full-width forms (NFKC maps them back).
TO_FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789+-.,:"})


@dataclass(frozen=True)
class Variant:
    name: str
    loadable: bool  # the build loads it exactly as the plain lake (the manifest stays true)
    formats: tuple[str, ...]  # the file formats it applies to
    what: str


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("crlf_line_endings", True, ("csv", "jsonl"), "Windows line endings (CRLF) on every line"),
        Variant("byte_order_mark", True, ("csv", "jsonl"), "a UTF-8 byte-order mark at the start of every file"),
        Variant("fullwidth_digits", True, ("csv", "jsonl"), "digits, signs and points of numbers/dates full-width"),
        Variant("empty_extract", False, ("csv", "jsonl", "parquet"), "one day's file header-only, 0 bytes or 0 rows"),
        Variant("parquet_column_type", False, ("parquet",), "one file's column written with another type"),
        Variant("out_of_range_partition", False, ("csv", "jsonl", "parquet"), "a partition folder that is no date"),
        Variant("unreadable_file", False, ("csv", "jsonl", "parquet"), "no permission, truncated Parquet, not UTF-8"),
    )
}

BAD_PARTITIONS: dict[str, str] = {
    "month_13": "year=2026/month=13/day=01",
    "day_32": "year=2026/month=01/day=32",
    "day_31_in_30_day_month": "year=2026/month=04/day=31",
    "non_numeric_year": "year=abcd/month=01/day=01",
    "far_future": "year=2999/month=01/day=01",
}
UNREADABLE_KINDS: tuple[str, ...] = ("no_permission", "truncated_parquet", "not_utf8")


def _table(name: str, project_dir: Path | None) -> SourceTable:
    tables = source_tables(project_dir)
    if name not in tables:
        raise KeyError(f"no raw table {name!r}: one of {', '.join(sorted(tables))}")
    return tables[name]


def table_files(lake_dir: Path, table: SourceTable) -> list[tuple[date, Path]]:
    """(landing date, file) of every data file of the table in a well-formed partition, in date order."""
    folder = table.folder(lake_dir)
    found = []
    for path in sorted(folder.rglob(f"*.{table.format}")):
        m = PARTITION.search(path.parent.relative_to(folder).as_posix())
        if m and path.is_file():
            found.append((date(int(m[1]), int(m[2]), int(m[3])), path))
    if not found:
        raise FileNotFoundError(f"{folder}: no {table.format} files of {table.name} to rewrite")
    return found


def _check_format(variant: str, table: SourceTable) -> None:
    if table.format not in VARIANTS[variant].formats:
        raise ValueError(f"{variant} applies to {'/'.join(VARIANTS[variant].formats)} files, not {table.name}")


def _record(lake_dir: Path, variant: str, table: SourceTable, files: Sequence[Path], **detail: object) -> None:
    """Add the variant to manifest.json's `feed_variants` (no values, only what was done and where)."""
    path = lake_dir / "manifest.json"
    if not path.is_file():
        return
    manifest = json.loads(path.read_text(encoding="utf-8"))
    entry = {
        "variant": variant,
        "table": table.name,
        "files": [p.relative_to(lake_dir).as_posix() for p in files],
        "reconciliation": "exact" if VARIANTS[variant].loadable else "inexact",
        **detail,
    }
    manifest.setdefault("feed_variants", []).append(entry)
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _rewrite(paths: Sequence[Path], change: Callable[[bytes], bytes]) -> None:
    for path in paths:
        path.write_bytes(change(path.read_bytes()))


def crlf_line_endings(lake_dir: Path, table: str, *, project_dir: Path | None = None) -> list[Path]:
    """Every line of every file of a CSV or JSON-lines table ends in CR LF (as a Windows export writes it)."""
    spec = _table(table, project_dir)
    _check_format("crlf_line_endings", spec)
    paths = [p for _, p in table_files(lake_dir, spec)]
    _rewrite(paths, lambda data: data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    _record(lake_dir, "crlf_line_endings", spec, paths)
    return paths


def byte_order_mark(lake_dir: Path, table: str, *, project_dir: Path | None = None) -> list[Path]:
    """Every non-empty file of a CSV or JSON-lines table starts with a UTF-8 byte-order mark (EF BB BF)."""
    spec = _table(table, project_dir)
    _check_format("byte_order_mark", spec)
    paths = [p for _, p in table_files(lake_dir, spec) if p.stat().st_size]
    _rewrite(paths, lambda data: data if data.startswith(BOM) else BOM + data)
    _record(lake_dir, "byte_order_mark", spec, paths)
    return paths


def fullwidth(text: str) -> str:
    """`text` with ASCII digits and the signs + - . , : full-width (１２３４．５, ２０２４－０１－０２)."""
    return text.translate(TO_FULLWIDTH)


def _fullwidth_csv(data: bytes, fields: Sequence[str]) -> bytes:
    bom = data.startswith(BOM)
    text = data[len(BOM) :].decode("utf-8") if bom else data.decode("utf-8")
    newline = "\r\n" if "\r\n" in text else "\n"
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        return data
    header, positions = rows[0], [rows[0].index(f) for f in fields]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    for row in rows[1:]:
        for i in positions:
            if i < len(row):
                row[i] = fullwidth(row[i])
        writer.writerow(row)
    return (BOM if bom else b"") + out.getvalue().encode("utf-8")


def _fullwidth_jsonl(data: bytes, fields: Sequence[str]) -> bytes:
    text = data.decode("utf-8")
    for key in fields:
        # Only the string value of the key, wherever the line is well-formed enough to hold one.
        pattern = re.compile(r'("' + re.escape(key) + r'"\s*:\s*")([^"\\]*)(")')
        text = pattern.sub(lambda m: m[1] + fullwidth(m[2]) + m[3], text)
    return text.encode("utf-8")


def fullwidth_digits(
    lake_dir: Path, table: str, fields: Sequence[str], *, project_dir: Path | None = None
) -> list[Path]:
    """Every value of `fields` (CSV columns, or JSON keys holding strings) in every file written with full-width
    digits and signs, e.g. a balance `１２３４５．６７` or a date `２０２６－１０－０１`. Every copy of a record is
    rewritten alike, so exact duplicates stay byte-identical."""
    spec = _table(table, project_dir)
    _check_format("fullwidth_digits", spec)
    declared = {f.name for f in spec.file_fields}
    unknown = [f for f in fields if f not in declared]
    if unknown or not fields:
        raise ValueError(f"{spec.name} declares no field {', '.join(unknown) or '(none given)'}")
    paths = [p for _, p in table_files(lake_dir, spec)]
    if spec.format == "csv":
        _rewrite(paths, lambda data: _fullwidth_csv(data, fields))
    else:
        _rewrite(paths, lambda data: _fullwidth_jsonl(data, fields))
    _record(lake_dir, "fullwidth_digits", spec, paths, fields=list(fields))
    return paths


def _file_of(lake_dir: Path, spec: SourceTable, day: date | None) -> tuple[date, Path]:
    files = table_files(lake_dir, spec)
    if day is None:
        return files[len(files) // 2]
    for landing, path in files:
        if landing == day:
            return landing, path
    raise FileNotFoundError(f"{spec.name} has no file landed on {day.isoformat()}")


def empty_extract(
    lake_dir: Path,
    table: str,
    day: date | None = None,
    *,
    zero_bytes: bool = False,
    project_dir: Path | None = None,
) -> Path:
    """One day's file (default: the middle one) without records: a CSV with only its header line (or 0 bytes with
    `zero_bytes`), a 0-byte JSON-lines file, a Parquet file with its schema and no rows."""
    spec = _table(table, project_dir)
    landing, path = _file_of(lake_dir, spec, day)
    if spec.format == "parquet":
        schema = pq.read_schema(path)
        pq.write_table(schema.empty_table(), path)
    elif spec.format == "csv" and not zero_bytes:
        header = path.read_bytes().split(b"\n", 1)[0]
        path.write_bytes(header + b"\n")
    else:
        path.write_bytes(b"")
    _record(lake_dir, "empty_extract", spec, [path], landing_date=landing.isoformat(), zero_bytes=zero_bytes)
    return path


def parquet_column_type(
    lake_dir: Path,
    table: str,
    column: str,
    *,
    to_type: pa.DataType | None = None,
    day: date | None = None,
    project_dir: Path | None = None,
) -> Path:
    """One day's Parquet file (default: the middle one) with `column` written as another type (default: text),
    as an upstream change of one job's output would."""
    spec = _table(table, project_dir)
    _check_format("parquet_column_type", spec)
    _, path = _file_of(lake_dir, spec, day)
    data = pq.read_table(path)
    if column not in data.column_names:
        raise ValueError(f"{path.name} has no column {column!r}")
    i = data.column_names.index(column)
    data = data.set_column(i, pa.field(column, to_type or pa.string()), data[column].cast(to_type or pa.string()))
    pq.write_table(data, path)
    _record(lake_dir, "parquet_column_type", spec, [path], column=column, to_type=str(to_type or pa.string()))
    return path


def out_of_range_partition(
    lake_dir: Path, table: str, kind: str = "month_13", *, project_dir: Path | None = None
) -> Path:
    """A copy of the table's last file under a partition folder that is no valid landing date: `month_13`,
    `day_32`, `day_31_in_30_day_month`, `non_numeric_year` (year=abcd) or `far_future` (year=2999)."""
    if kind not in BAD_PARTITIONS:
        raise ValueError(f"partition kind {kind!r}: one of {', '.join(BAD_PARTITIONS)}")
    spec = _table(table, project_dir)
    _, last = table_files(lake_dir, spec)[-1]
    folder = spec.folder(lake_dir) / BAD_PARTITIONS[kind]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / last.name
    shutil.copy2(last, path)
    _record(lake_dir, "out_of_range_partition", spec, [path], kind=kind)
    return path


def unreadable_file(
    lake_dir: Path,
    table: str,
    kind: str = "no_permission",
    *,
    day: date | None = None,
    project_dir: Path | None = None,
) -> Path:
    """One day's file (default: the middle one) made unreadable: `no_permission` (mode 000), `truncated_parquet`
    (cut to half its bytes, footer lost) or `not_utf8` (a CSV or JSON-lines file re-encoded as Big5, cp950, as a
    legacy Taiwanese system writes it; the table must hold non-ASCII text)."""
    if kind not in UNREADABLE_KINDS:
        raise ValueError(f"unreadable kind {kind!r}: one of {', '.join(UNREADABLE_KINDS)}")
    spec = _table(table, project_dir)
    _, path = _file_of(lake_dir, spec, day)
    if kind == "no_permission":
        os.chmod(path, 0)
    elif kind == "truncated_parquet":
        if spec.format != "parquet":
            raise ValueError(f"truncated_parquet applies to Parquet files, not {spec.name}")
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        if spec.format == "parquet":
            raise ValueError(f"not_utf8 applies to CSV and JSON-lines files, not {spec.name}")
        encoded = path.read_bytes().decode("utf-8").encode("cp950", errors="replace")
        try:
            encoded.decode("utf-8")
        except UnicodeDecodeError:
            path.write_bytes(encoded)
        else:
            raise ValueError(f"{path.name} is plain ASCII: Big5 would not change it (use crm.customers)")
    _record(lake_dir, "unreadable_file", spec, [path], kind=kind)
    return path
