"""A generator of hostile raw lakes, and an oracle that owes nothing to the guard or to `scan-pii`.

The lake starts as an ordinary small generated lake; then a *planted person* — a national ID, mobile, e-mail,
name and street address that occur nowhere else — is written into it in every spelling the domain allows (case,
full-width NFKC forms, spaces, dashes, dots and brackets, +886/886 prefixes, JSON unicode escapes, embedded in
Chinese text and in JSON), into every field of every feed: personal columns (where masking must treat them),
codes, identifiers and free text (where nothing personal may pass), undeclared JSON keys, and malformed records of
each format (a broken JSON line, a cut-off line, a broken CSV quote, a short or long CSV row), and file names.

The oracle (`Oracle.find`) folds any text with NFKC and casefold, drops separators, and looks for each planted
value as a plain substring: a deliberately blunt check, independent of taglake.privacy.patterns.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb

from taglake.lake.national_id import checksum_digit

# --- the planted person: values that occur nowhere in a generated lake -----------------------------------------
# Letters outside a-f, so no 64-hex token can contain the ID; digits chosen to be unlike amounts and dates.
_ID_BODY = "K2" + "7305918"
PLANTED_ID = _ID_BODY + str(checksum_digit(_ID_BODY[0], _ID_BODY[1:]))
PLANTED_MOBILE = "0937215846"
PLANTED_EMAIL = "kw7canary.lin@tlcanary.tw"
PLANTED_NAME = "歐陽琳瑯"
PLANTED_STREET = "光明六路東一段987號"
PLANTED_ADDRESS = "新竹縣竹北市" + PLANTED_STREET
# Further valid IDs of the same shape, to key the hostile rows uniquely (each row carries one planted value).
EXTRA_IDS = [body + str(checksum_digit(body[0], body[1:])) for body in (f"P1{n:07d}" for n in range(4815000, 4815400))]

_FULL = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


def full_width(text: str) -> str:
    return "".join(_FULL.get(ch, ch) for ch in text)


def spellings(kind: str) -> list[str]:
    """Every spelling of the planted value of `kind` the suite writes."""
    if kind == "national_id":
        v = PLANTED_ID
        return [
            v,
            v.lower(),
            full_width(v),
            full_width(v.lower()),
            f"{v[0]} {v[1:4]} {v[4:7]} {v[7:]}",
            f"{v[0]}-{v[1:]}",
            f"身分證{v}號",
            f"ID:{v.lower()}",
            f"（{full_width(v)}）",
        ]
    if kind == "mobile":
        v = PLANTED_MOBILE
        nsn = v[1:]
        return [
            v,
            f"{v[:4]}-{v[4:7]}-{v[7:]}",
            f"+886 {nsn[:3]} {nsn[3:6]} {nsn[6:]}",
            f"886{nsn}",
            f"+886-{nsn}",
            f"({v[:2]}){v[2:4]}.{v[4:7]}.{v[7:]}",
            full_width(v),
            f"手機{full_width(v[:4])}－{v[4:]}",
        ]
    if kind == "email":
        v = PLANTED_EMAIL
        return [v, v.upper(), full_width(v), f"聯絡{v}謝謝", v.replace("@", "＠")]
    if kind == "name":
        return [PLANTED_NAME, f"客戶{PLANTED_NAME}先生", f" {PLANTED_NAME} "]
    if kind == "address":
        return [PLANTED_ADDRESS, PLANTED_ADDRESS.replace("987", full_width("987")), f"寄到{PLANTED_ADDRESS}"]
    raise ValueError(kind)


KINDS = ("national_id", "mobile", "email", "name", "address")


def every_spelling() -> Iterator[tuple[str, str]]:
    for kind in KINDS:
        for text in spellings(kind):
            yield kind, text


# --- the oracle ----------------------------------------------------------------------------------------------------
_NUMERIC_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DECIMAL", "DOUBLE", "FLOAT", "REAL"}
_SEPARATORS = re.compile(r"[\s\-.()（）\[\]_/\\:+]")


def fold(text: str) -> str:
    """NFKC, casefold, and no separators: the form the oracle compares in."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True)
class Leak:
    where: str
    kind: str

    def __str__(self) -> str:  # never the value
        return f"{self.kind} in {self.where}"


class Oracle:
    """Finds planted values (and key material) in text, by plain substring search on folded text."""

    def __init__(self, extra: dict[str, Iterable[str]] | None = None) -> None:
        needles = {
            "national_id": [PLANTED_ID],
            "mobile": [PLANTED_MOBILE[1:]],  # the national significant number: 0937…, +886 937…, 886937…
            "email": [PLANTED_EMAIL, PLANTED_EMAIL.split("@")[0]],
            "name": [PLANTED_NAME],
            "address": [PLANTED_STREET],
        }
        for kind, values in (extra or {}).items():
            needles.setdefault(kind, []).extend(values)
        self.needles = [(kind, fold(v)) for kind, values in needles.items() for v in values if fold(v)]

    def kinds_in(self, text: str) -> set[str]:
        folded = fold(text)
        return {kind for kind, needle in self.needles if needle in folded}

    def scan_text(self, text: str, where: str) -> list[Leak]:
        return [Leak(where, kind) for kind in sorted(self.kinds_in(text))]

    def scan_files(self, folders: Iterable[Path]) -> list[Leak]:
        leaks: list[Leak] = []
        for folder in folders:
            if not folder.exists():
                continue
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                text = path.read_bytes().decode("utf-8", errors="replace")
                leaks += self.scan_text(text, f"file {path}")
        return leaks

    def scan_database(self, db_path: Path, *, skip_schemas: tuple[str, ...] = ()) -> list[Leak]:
        """Every column of every table and view, cast to text. A mobile is a run of digits, so in a numeric column
        it is a number like any other (a balance of 937,215,846 is no leak that any check could tell): there the
        mobile is not looked for; every other kind is."""
        leaks: list[Leak] = []
        if not db_path.is_file():
            return leaks
        with duckdb.connect(str(db_path), read_only=True) as con:
            columns = con.sql(
                "select table_schema, table_name, column_name, data_type from information_schema.columns "
                "where table_catalog = current_database() order by 1, 2, 3"
            ).fetchall()
            for schema, table, column, data_type in columns:
                if schema in skip_schemas:
                    continue
                numeric = data_type.split("(")[0] in _NUMERIC_TYPES
                values = con.sql(
                    f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" '
                    f'where "{column}" is not null'
                ).fetchall()
                text = "\n".join(v[0] for v in values)
                found = self.scan_text(text, f"relation {schema}.{table}.{column}")
                leaks += [leak for leak in found if not (numeric and leak.kind == "mobile")]
        return leaks


# --- writing the hostile lake ----------------------------------------------------------------------------------------
def _day_folder(lake: Path, source: str, table: str) -> Path:
    folders = sorted((lake / "raw" / source / table).glob("year=*/month=*/day=*"))
    return folders[-1]


def _one_file(folder: Path, suffix: str) -> Path:
    files = sorted(folder.glob(f"*{suffix}"))
    return files[-1]


class _Ids:
    def __init__(self) -> None:
        self._free = iter(EXTRA_IDS)

    def next(self) -> str:
        return next(self._free)


def _csv_lines(rows: list[dict[str, str]], header: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writerows(rows)
    return out.getvalue()


def _csv_with_rows(lake: Path, source: str, table: str) -> Path:
    """The newest day's extract of a CSV feed that holds at least one row (a change extract may be empty)."""
    for folder in sorted((lake / "raw" / source / table).glob("year=*/month=*/day=*"), reverse=True):
        for path in sorted(folder.glob("*.csv")):
            if len(path.read_text(encoding="utf-8").splitlines()) > 1:
                return path
    raise FileNotFoundError(f"no {source}.{table} extract with rows")


def _append_csv_rows(path: Path, make_rows) -> None:
    text = path.read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(text)))
    template = next(csv.DictReader(io.StringIO(text)))
    rows = make_rows(header, template)
    if not text.endswith("\n"):
        text += "\n"
    path.write_text(text + _csv_lines(rows, header), encoding="utf-8")


def plant_crm(lake: Path, ids: _Ids) -> None:
    path = _csv_with_rows(lake, "crm", "customers")

    def rows(header: list[str], template: dict[str, str]) -> list[dict[str, str]]:
        personal = {"national_id", "name_zh", "birth_date", "mobile", "email", "address"}
        out = []
        # The planted person, personal columns in several spellings (masking must treat each).
        for i, (mobile, email) in enumerate(zip(spellings("mobile"), spellings("email"), strict=False)):
            row = dict(template)
            row.update(
                national_id=PLANTED_ID.lower() if i % 2 else f" {PLANTED_ID} ",
                name_zh=spellings("name")[i % 3],
                mobile=mobile,
                email=email,
                address=spellings("address")[i % 3],
                updated_at=f"2026-01-0{1 + i} 00:00:00",
            )
            out.append(row)
        # Every other column holding a planted value (each row its own key).
        for column in header:
            if column in personal:
                continue
            for _, text in every_spelling():
                row = dict(template)
                row["national_id"] = ids.next()
                row[column] = text
                out.append(row)
        return out

    _append_csv_rows(path, rows)


def plant_accounts(lake: Path) -> None:
    path = _csv_with_rows(lake, "core_banking", "accounts")

    def rows(header: list[str], template: dict[str, str]) -> list[dict[str, str]]:
        out = []
        for column in header:
            if column == "national_id":
                continue
            for _, text in every_spelling():
                row = dict(template)
                row["account_id"] = f"9{len(out):013d}"
                row[column] = text
                out.append(row)
        for text in spellings("national_id"):
            row = dict(template)
            row["account_id"] = f"8{len(out):013d}"
            row["national_id"] = text
            out.append(row)
        return out

    _append_csv_rows(path, rows)


def _append_parquet_rows(path: Path, text_columns: list[str], key: str, personal: str) -> None:
    con = duckdb.connect()
    try:
        con.sql(f"create table t as select * from read_parquet('{path}', hive_partitioning=false)")
        cols = [r[0] for r in con.sql("describe t").fetchall()]
        template = con.sql("select * from t limit 1").fetchone()
        rows = []
        for column in [*text_columns, personal]:
            for _, text in (
                every_spelling() if column != personal else (("national_id", s) for s in spellings("national_id"))
            ):
                values = dict(zip(cols, template, strict=True))
                values[key] = f"{values[key]}x{len(rows):04d}"
                values[column] = text
                rows.append([values[c] for c in cols])
        con.executemany(f"insert into t values ({', '.join('?' for _ in cols)})", rows)
        tmp = path.with_suffix(".tmp")
        con.sql(f"copy t to '{tmp}' (format parquet)")
    finally:
        con.close()
    tmp.replace(path)


def plant_cards(lake: Path) -> None:
    path = _one_file(_day_folder(lake, "cards", "transactions"), ".parquet")
    _append_parquet_rows(
        path,
        ["card_id", "currency", "merchant_category_code", "merchant_country", "channel", "wallet_type"],
        key="transaction_id",
        personal="national_id",
    )


def plant_scores(lake: Path) -> None:
    path = _one_file(_day_folder(lake, "ml", "model_scores"), ".parquet")
    _append_parquet_rows(path, ["model_name", "model_version"], key="model_version", personal="national_id")


def _json_or_none(line: str) -> dict | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _json_unicode_escaped(text: str) -> str:
    return "".join(f"\\u{ord(ch):04x}" for ch in text)


def plant_app_events(lake: Path) -> None:
    path = next(
        p
        for p in sorted((lake / "raw" / "digital" / "app_events").rglob("*.jsonl"), reverse=True)
        if p.read_text(encoding="utf-8").strip()
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    template = next(e for e in map(_json_or_none, lines) if e and isinstance(e.get("device"), dict))
    out: list[str] = []
    n = 0

    def event(**changes) -> dict:
        nonlocal n
        n += 1
        e = json.loads(json.dumps(template))
        e["event_id"] = f"00000000-0000-4000-8000-{n:012d}"
        for k, v in changes.items():
            if k.startswith("device."):
                e["device"][k.split(".", 1)[1]] = v
            else:
                e[k] = v
        return e

    fields = [
        "event_type",
        "page",
        "product_code",
        "device.os",
        "device.os_version",
        "device.app_version",
        "device.device_model",
        "event_at",
        "event_id",
    ]
    for field in fields:
        for _, text in every_spelling():
            e = event(**{field: text})
            out.append(json.dumps(e, ensure_ascii=False))
    for kind, text in every_spelling():
        out.append(json.dumps(event(note=text, comment={"free": text}), ensure_ascii=False))  # undeclared keys
        out.append(json.dumps(event(national_id=text), ensure_ascii=False) if kind == "national_id" else "")
        good = json.dumps(event(page=text), ensure_ascii=False)
        out.append(good[: len(good) // 2 + 8])  # cut off part way
        out.append("{not json " + text + " }")  # malformed
    out.append(json.dumps(event()).replace(template["national_id"], _json_unicode_escaped(PLANTED_ID)))
    out.append(json.dumps(event(page=_json_unicode_escaped(PLANTED_NAME))).replace("\\\\u", "\\u"))
    path.write_text("\n".join([*lines, *(line for line in out if line)]) + "\n", encoding="utf-8")


def plant_file_name(lake: Path) -> Path:
    """A second CRM extract on a landing day whose file name holds the planted national ID and mobile, with a row
    that is quarantined (its national ID missing): the quarantine names a row's file (source_file), and a file name
    is a value nobody declared."""
    source = _csv_with_rows(lake, "crm", "customers")
    text = source.read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(text)))
    row = dict(next(csv.DictReader(io.StringIO(text))), national_id="")
    path = source.with_name(f"customers_{PLANTED_ID}_{PLANTED_MOBILE}.csv")
    path.write_text(",".join(header) + "\n" + _csv_lines([row], header), encoding="utf-8")
    return path


def make_hostile(lake: Path) -> None:
    """Plant the person into every well-formed feed of a generated lake (in place), and into a file's name."""
    ids = _Ids()
    plant_crm(lake, ids)
    plant_accounts(lake)
    plant_cards(lake)
    plant_scores(lake)
    plant_app_events(lake)
    plant_file_name(lake)


def break_csv_quote(lake: Path) -> tuple[Path, int]:
    """A CRM row whose quote never closes, holding the planted person, as the last line of a day's extract; the
    file and the line the quote opens on."""
    path = _csv_with_rows(lake, "crm", "customers")
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    row = f'{PLANTED_ID},"{PLANTED_NAME},1970-01-01,M,{PLANTED_MOBILE},{PLANTED_EMAIL},{PLANTED_ADDRESS},0101,R1\n'
    path.write_text(text + row, encoding="utf-8")
    return path, len(text.splitlines()) + 1


def ragged_csv_rows(lake: Path) -> tuple[Path, int]:
    """Accounts rows with too few and too many fields, holding planted values; the file and the first such line."""
    path = _csv_with_rows(lake, "core_banking", "accounts")
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    short = f"99999999999999,{PLANTED_ID},deposit"
    long = (
        f"77777777777777,{PLANTED_ID},deposit,DEP-SAV,active,2020-01-01,,1,,2026-01-01 00:00:00,"
        f"{PLANTED_MOBILE},{PLANTED_NAME}"
    )
    extra = f"{short}\n{long}\n"
    path.write_text(text + extra, encoding="utf-8")
    return path, len(text.splitlines()) + 1
