"""Pre-flight check of a local raw zone: read every file's frame before dbt does, and name what would fail.

A reader (DuckDB's read_csv/read_parquet, Athena's SerDe) meeting a bad file either fails the whole table with an
engine message that names neither the file nor the fix, or worse, loads it silently wrong (a partition folder that
is no date, a Parquet column whose type changed, a file outside the partition layout that the glob never reads).
`check_lake` finds those first and reports one line per problem, naming the file and the column or partition,
never a value. `taglake check-lake` prints them; `taglake build`, `run-daily` and `demo` run it before dbt on the
local targets and stop on any problem. docs/raw-zone.md ("Feed variants") lists what is checked.

What a table must look like comes from its source YAML (taglake.core.sources): format, columns and types, the landing
years its partition projection covers (`partition_years`), and what a complete delivery is (`completeness`).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from taglake.core.sources import SourceColumn, SourceTable, source_tables

BOM = b"\xef\xbb\xbf"
CHUNK = 1 << 20
PARTITION_KEYS = ("year", "month", "day")
# Completeness kinds a source table may declare (`meta.completeness` in its source YAML).
ROWS_EVERY_DAY = "rows_every_day"  # activity every day: each landing day from the lake's first holds rows
FILE_EVERY_DAY = "file_every_day"  # change extract: a file each day; header-only is a day without changes
ROWS_EVERY_FILE = "rows_every_file"  # lands on some days only; a file that lands holds rows


class LakeCheckError(RuntimeError):
    """The raw zone has problems a build would trip on; one line each, no values."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Problem:
    where: str  # the file or folder, relative to the lake folder when inside it
    what: str  # what is wrong and, where it helps, the fix; never a value from the file

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class _FileFacts:
    rows: int | None = None  # data records (None: not known because the file could not be read)
    header: list[str] | None = None


def _rel(lake_dir: Path, path: Path) -> str:
    try:
        return path.relative_to(lake_dir).as_posix()
    except ValueError:
        return path.as_posix()


def _years(table: SourceTable) -> tuple[int, int] | None:
    m = re.fullmatch(r"\s*(\d{4})\s*,\s*(\d{4})\s*", table.partition_years or "")
    return (int(m[1]), int(m[2])) if m else None


def partition_date(table: SourceTable, parts: tuple[str, ...], today: date) -> tuple[date | None, str | None]:
    """The landing date of a partition's folder names (`year=YYYY`, `month=MM`, `day=DD`), or why it is none."""
    if len(parts) != 3:
        return None, "not in a year=YYYY/month=MM/day=DD partition: the reader's glob never reads it"
    values = []
    for key, part in zip(PARTITION_KEYS, parts, strict=True):
        name, sep, text = part.partition("=")
        if name != key or not sep:
            return None, f"partition folder {part!r} is not {key}=…: expected year=YYYY/month=MM/day=DD"
        if not re.fullmatch(r"\d{4}" if key == "year" else r"\d{1,2}", text):
            return None, f"partition {key} is not a number ({key}={text!r}): the integer partition key cannot hold it"
        values.append(int(text))
    try:
        landing = date(*values)
    except ValueError:
        return None, "partition year/month/day is not a calendar date (e.g. month 13, day 32, 31 April)"
    years = _years(table)
    if years and not years[0] <= landing.year <= years[1]:
        return None, (
            f"landing year {landing.year} is outside the years the catalog's partition projection covers "
            f"({years[0]}-{years[1]}, partition_years in the source YAML): Athena would never read it"
        )
    if landing > today + timedelta(days=1):
        return None, f"landing date {landing.isoformat()} is in the future (today is {today.isoformat()} UTC)"
    return landing, None


def _open_problem(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    if not mode & (stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH):
        return "cannot be read: no read permission (mode 000); fix the file's permissions or re-deliver it"
    if not os.access(path, os.R_OK):
        return "cannot be read: permission denied; fix the file's permissions or re-deliver it"
    return None


def _read_text_facts(path: Path, table: SourceTable) -> tuple[_FileFacts, str | None]:
    """Decode the whole file as UTF-8 (a byte-order mark is allowed), count its records, read a CSV header."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    facts = _FileFacts()
    first_line = bytearray()
    newlines = 0
    data_after_first = False
    offset = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(CHUNK):
                if offset == 0 and chunk.startswith(BOM):
                    chunk = chunk[len(BOM) :]
                    offset = len(BOM)
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return facts, (
                        f"not UTF-8 (invalid byte at offset {offset + exc.start}); re-deliver it encoded as UTF-8 "
                        "(a Big5/cp950 export must be converted)"
                    )
                if newlines == 0:
                    cut = chunk.find(b"\n")
                    first_line += chunk if cut < 0 else chunk[:cut]
                    if cut >= 0 and chunk[cut + 1 :].strip():
                        data_after_first = True
                elif chunk.strip():
                    data_after_first = True
                newlines += chunk.count(b"\n")
                offset += len(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return facts, "not UTF-8 (the file ends inside a character); re-deliver it encoded as UTF-8"
    except OSError as exc:
        return facts, f"cannot be read ({exc.strerror or type(exc).__name__})"
    text_first = bytes(first_line).rstrip(b"\r").decode("utf-8")
    if table.format == "jsonl":
        facts.rows = 1 if text_first.strip() or data_after_first else 0
        return facts, None
    if not text_first.strip():
        return facts, "a 0-byte CSV, not even its header line: a broken delivery; re-deliver the extract"
    facts.header = next(csv.reader(io.StringIO(text_first)))
    facts.rows = 1 if data_after_first else 0
    return facts, None


def csv_dialect(table: SourceTable) -> dict[str, Any]:
    """The Python csv module's reader options for the dialect a CSV table's source YAML declares (format_options):
    delimiter, quote and escape character (an escape equal to the quote is a doubled quote), strict, so that a file
    that ends inside a quoted field or a quote closed mid-field is an error rather than a silently merged row."""
    options = dict(table.format_options)
    quote = str(options.get("quote", '"'))
    escape = str(options.get("escape") or "") or None
    return {
        "delimiter": str(options.get("delimiter", ",")),
        "quotechar": quote,
        "escapechar": None if escape == quote else escape,
        "doublequote": True,
        "strict": True,
    }


UNCLOSED_QUOTE = "a quote opens and never closes"
_QUOTE_FIX = "close it (or double a quote inside a quoted value) and re-deliver the extract"


def csv_structure_problem(path: Path, table: SourceTable) -> str | None:
    """The first place a CSV file cannot be read row by row, as `line <n>: …` with the fix, or None.

    Streams the file once through the csv module in the declared dialect (csv_dialect). A quote that never closes
    swallows the lines after it: the file ends inside it, a field grows past the csv module's limit, or it closes
    lines later into a record of the wrong width; each is reported at the line where the record (and the quote)
    starts. A row on its own line with more or fewer fields than the header is a ragged row: DuckDB's reader fails
    the whole table on it (or takes a tiny file's last line as its header), so it is refused too. Never a value."""
    dialect = csv_dialect(table)
    header_lines = int(dict(table.format_options).get("header_lines", 1) or 0)
    width: int | None = None
    first_ragged: tuple[int, int] | None = None
    more_ragged = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, **dialect)
            records = 0
            while True:
                start = reader.line_num + 1
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    text = str(exc)
                    if "unexpected end of data" in text:
                        return f"line {start}: {UNCLOSED_QUOTE} (the file ends inside it); {_QUOTE_FIX}"
                    if "field larger than field limit" in text:
                        return (
                            f"line {start}: {UNCLOSED_QUOTE} (the quoted field runs on past {csv.field_size_limit()} "
                            f"characters); {_QUOTE_FIX}"
                        )
                    if "expected after" in text:
                        return (
                            f"line {start}: a quote opens and does not close where its field ends (the quote that "
                            f"closes it, on line {reader.line_num}, is followed by more text); {_QUOTE_FIX}"
                        )
                    return f"line {start}: not readable as CSV ({_csv_error_kind(text)}); re-deliver the extract"
                if not record:
                    continue  # a blank line: no record
                records += 1
                if records <= header_lines:
                    width = width or len(record)
                    continue
                if width is None or len(record) == width:
                    continue
                end = reader.line_num
                if end > start:
                    return (
                        f"line {start}: {UNCLOSED_QUOTE} on its line: the record runs on to line {end} with "
                        f"{len(record)} fields where the header has {width}; {_QUOTE_FIX}"
                    )
                if first_ragged is None:
                    first_ragged = (start, len(record))
                else:
                    more_ragged += 1
    except (OSError, UnicodeDecodeError):
        return None  # reported by the first read (_read_text_facts)
    if first_ragged is None:
        return None
    line, fields = first_ragged
    more = f" (and {more_ragged} more such row(s))" if more_ragged else ""
    return (
        f"line {line}: a row with {fields} fields where the header has {width}{more}: the reader cannot load the "
        "file row by row; fix the row (quote a value holding the delimiter) or re-deliver the extract"
    )


def _csv_error_kind(text: str) -> str:
    """The csv module's error without anything from the file (its messages quote no field, but be sure)."""
    if "NUL" in text:
        return "a NUL byte"
    return "a malformed record"


def _header_problem(table: SourceTable, header: list[str]) -> str | None:
    declared = [c.name for c in table.file_fields]
    if header == declared:
        return None
    missing = [c for c in declared if c not in header]
    unexpected = [c for c in header if c not in declared]
    detail = []
    if missing:
        detail.append("missing " + ", ".join(missing))
    if unexpected:
        detail.append(f"{len(unexpected)} undeclared column(s)")
    if not detail:
        detail.append("columns in another order")
    return f"CSV header differs from the columns the source YAML declares ({'; '.join(detail)})"


def _type_matches(declared: str, actual: pa.DataType) -> bool:
    kind = declared.strip().lower().replace(" ", "")
    if kind in ("string", "varchar", "text"):
        return pa.types.is_string(actual) or pa.types.is_large_string(actual)
    if kind == "timestamp":
        return pa.types.is_timestamp(actual) and actual.tz is None
    if kind in ("double", "float8", "doubleprecision"):
        return pa.types.is_float64(actual)
    if kind in ("int", "integer", "bigint"):
        return pa.types.is_integer(actual)
    m = re.fullmatch(r"decimal\((\d+),(\d+)\)", kind)
    if m:
        return pa.types.is_decimal(actual) and (actual.precision, actual.scale) == (int(m[1]), int(m[2]))
    return True  # a type the check does not know is left to the reader


def _parquet_facts(path: Path, table: SourceTable) -> tuple[_FileFacts, list[str]]:
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except (OSError, pa.ArrowException) as exc:
        del exc  # the reader's message may quote the file's bytes
        return _FileFacts(), ["not a readable Parquet file (truncated or corrupt: no valid footer); re-deliver it"]
    problems = []
    declared: dict[str, SourceColumn] = {c.name: c for c in table.file_fields}
    for name, column in declared.items():
        if name not in schema.names:
            continue  # a column a file lacks reads as null and is checked by staging (or added later in the feed)
        actual = schema.field(name).type
        if not _type_matches(column.data_type, actual):
            problems.append(
                f"column {name} is {actual} in this file, the source YAML declares {column.data_type}: "
                "the feed's type changed; fix the producer or declare the change"
            )
    return _FileFacts(rows=meta.num_rows), problems


def _table_files(lake_dir: Path, table: SourceTable) -> Iterator[Path]:
    folder = table.folder(lake_dir)
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in sorted(files):
            if not name.startswith((".", "_")):  # hidden and marker files (_SUCCESS) are never data
                yield Path(root, name)


def check_table(lake_dir: Path, table: SourceTable, *, today: date) -> tuple[list[Problem], dict[date, int | None]]:
    """Problems of one raw table's files, and the records that landed per landing date (None: unknown)."""
    folder = table.folder(lake_dir)
    problems: list[Problem] = []
    landed: dict[date, int | None] = {}
    if not folder.is_dir():
        return [Problem(_rel(lake_dir, folder), f"no folder for {table.name}: nothing landed")], landed
    for path in _table_files(lake_dir, table):
        where = _rel(lake_dir, path)
        parts = path.parent.relative_to(folder).parts
        landing, why = partition_date(table, parts, today)
        if why:
            problems.append(Problem(where, why))
            continue
        assert landing is not None
        if path.suffix != f".{table.format}":
            problems.append(Problem(where, f"not a .{table.format} file: the reader never reads it"))
            continue
        why = _open_problem(path)
        if why:
            problems.append(Problem(where, why))
            landed[landing] = None
            continue
        if table.format == "parquet":
            facts, found = _parquet_facts(path, table)
            problems += [Problem(where, p) for p in found]
        else:
            facts, why = _read_text_facts(path, table)
            if why:
                problems.append(Problem(where, why))
            elif facts.header is not None:
                why = _header_problem(table, facts.header) or csv_structure_problem(path, table)
                if why:
                    problems.append(Problem(where, why))
        rows = facts.rows
        if rows == 0 and table.completeness in (ROWS_EVERY_DAY, ROWS_EVERY_FILE):
            problems.append(
                Problem(
                    where,
                    f"{table.name} landed no rows on {landing.isoformat()} (an empty extract): a day that should "
                    "have data; re-deliver it",
                )
            )
        prior = landed.get(landing, 0)
        landed[landing] = None if rows is None or prior is None else prior + rows
    if not landed and not problems:
        problems.append(Problem(_rel(lake_dir, folder), f"no {table.format} files for {table.name}: nothing landed"))
    return problems, landed


def check_lake(lake_dir: Path, *, project_dir: Path | None = None, today: date | None = None) -> list[Problem]:
    """Every problem of the lake's raw zone a build would trip on, one per file or landing day, in table order.

    Checked per declared raw table: every file sits in a `year=YYYY/month=MM/day=DD` partition that is a calendar
    date inside the catalog's `partition_years` and not in the future, with the table's extension; it can be read
    (permissions); CSV and JSON lines decode as UTF-8 (a byte-order mark and CRLF line ends are fine) and a CSV's
    header is the declared columns; a CSV reads row by row in its declared dialect (no quote that never closes, no
    row wider or narrower than the header: csv_structure_problem, which names the line); a Parquet footer reads and each declared column it holds has the declared
    type. Completeness: a `rows_every_day` table holds rows on every day from the lake's first landing day to its
    last, a `rows_every_file` table's files hold rows, a `file_every_day` table has a file every day (header-only
    is a day without changes).
    """
    lake_dir = lake_dir.resolve()
    if not (lake_dir / "raw").is_dir():
        return [Problem(lake_dir.as_posix(), "no raw/ folder: not a lake (run `taglake generate` or pass --lake)")]
    today = today or datetime.now(UTC).date()
    problems: list[Problem] = []
    landed_by_table: dict[str, dict[date, int | None]] = {}
    tables = source_tables(project_dir)
    for table in tables.values():
        found, landed = check_table(lake_dir, table, today=today)
        problems += found
        landed_by_table[table.name] = landed
    days = {d for landed in landed_by_table.values() for d in landed}
    if days:
        first, last = min(days), max(days)
        calendar = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        for table in tables.values():
            landed = landed_by_table[table.name]
            if table.completeness not in (ROWS_EVERY_DAY, FILE_EVERY_DAY) or not landed:
                continue
            folder = _rel(lake_dir, table.folder(lake_dir))
            for day in calendar:
                if day not in landed:
                    problems.append(
                        Problem(
                            f"{folder}/year={day:%Y}/month={day:%m}/day={day:%d}",
                            f"{table.name} has no file for {day.isoformat()}: a daily feed must land every day",
                        )
                    )
    return problems


def require_clean_lake(lake_dir: Path, *, project_dir: Path | None = None) -> None:
    """Raise LakeCheckError (one line per problem) unless `check_lake` finds nothing."""
    problems = check_lake(lake_dir, project_dir=project_dir)
    if problems:
        raise LakeCheckError(problems)
