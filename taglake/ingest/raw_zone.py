"""Accepted records written to the raw zone as the dbt sources read them: the table's folder, the landing
partition `year=YYYY/month=MM/day=DD` (the UTC date the batch arrived), and the table's file format (JSON lines, CSV
with the declared header, or Parquet with the declared column types, zstd-compressed, as the feeds write it), one
new file per batch whose name the table's glob reads and no other batch shares, so nothing already landed is ever
overwritten.

The same key layout serves the S3 raw bucket (`s3://<bucket>/<prefix>/<source>/<table>/year=…/…`, what
`taglake catalog` registers) and the local lake (`<lake>/raw/<source>/<table>/year=…/…`, what the local target reads).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from taglake.ingest.validate import exact_decimal, parse_timestamp

INGESTIBLE_FORMATS = ("jsonl", "csv", "parquet")


@dataclass(frozen=True)
class TableLayout:
    """What the writer needs of a raw table, read from its registry schema (the Lambda has no source YAML)."""

    source: str
    table: str
    raw_prefix: str
    format: str
    fields: tuple[str, ...]  # the file fields, in file (YAML) order
    data_types: tuple[str, ...] = ()  # each field's declared data_type (a Parquet file holds them)

    @property
    def name(self) -> str:
        return f"{self.source}.{self.table}"

    @classmethod
    def of_schema(cls, schema: dict[str, Any]) -> TableLayout:
        source, table = schema["title"].split(".", 1)
        return cls(
            source=source,
            table=table,
            raw_prefix=schema.get("x-taglake-raw-prefix", source),
            format=schema["x-taglake-format"],
            fields=tuple(schema["properties"]),
            data_types=tuple(str(p.get("x-taglake-data-type", "string")) for p in schema["properties"].values()),
        )


class RawZone(Protocol):
    def put(self, key: str, body: bytes) -> str:
        """Write `body` as a new object at `key` (relative to the raw zone) and return where it went."""
        ...


@dataclass(frozen=True)
class S3RawZone:
    client: Any  # a boto3 S3 client
    bucket: str
    prefix: str = ""

    def put(self, key: str, body: bytes) -> str:
        full = "/".join(p.strip("/") for p in (self.prefix, key) if p.strip("/"))
        # IfNoneMatch: never replace an object that is already there (the batch ID makes the name unique anyway).
        self.client.put_object(Bucket=self.bucket, Key=full, Body=body, IfNoneMatch="*")
        return f"s3://{self.bucket}/{full}"


@dataclass(frozen=True)
class LocalRawZone:
    lake_dir: Path  # the lake folder: files go under <lake_dir>/raw/

    def put(self, key: str, body: bytes) -> str:
        path = self.lake_dir / "raw" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("." + path.name + ".tmp")  # hidden while written: no reader sees half a file
        tmp.write_bytes(body)
        with path.open("xb") as fh:  # refuse to overwrite
            fh.write(tmp.read_bytes())
        tmp.unlink()
        return str(path)


def batch_file_key(table: TableLayout, landing: date, batch_id: str) -> str:
    """Where a batch lands: <source>/<table>/year=YYYY/month=MM/day=DD/<table>_YYYYMMDD_api_<batch>.<ext>."""
    if not re.fullmatch(r"[0-9a-f]{8,64}", batch_id):
        raise ValueError("batch id: lower-case hex, 8 to 64 characters")
    ext = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet"}[table.format]
    stamp = landing.strftime("%Y%m%d")
    return (
        f"{table.raw_prefix}/{table.table}/year={landing.year:04d}/month={landing.month:02d}/day={landing.day:02d}/"
        f"{table.table}_{stamp}_api_{batch_id}.{ext}"
    )


def encode_batch(table: TableLayout, records: list[dict[str, Any]]) -> bytes:
    """The file body of `records` in `table`'s format: one compact JSON object a line, or CSV with a header of the
    file fields in YAML order (every value text; a missing field empty), quoted as the generator quotes."""
    if table.format == "jsonl":
        return b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n" for r in records)
    if table.format == "csv":
        names = list(table.fields)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL, doublequote=True)
        writer.writerow(names)
        for record in records:
            writer.writerow(["" if record.get(n) is None else record[n] for n in names])
        return out.getvalue().encode("utf-8")
    if table.format == "parquet":
        return _encode_parquet(table, records)
    raise ValueError(f"{table.name}: the ingestion API writes {', '.join(INGESTIBLE_FORMATS)}, not {table.format}")


def _arrow_column(data_type: str, values: list[Any]) -> Any:
    """One Parquet column of the declared type, from checked values (taglake.ingest.validate): text as sent, a
    timestamp in UTC (microseconds, no zone, as the feeds write it), a decimal exact, numbers as numbers."""
    import pyarrow as pa  # imported here: only a Parquet feed's batch needs it

    t = data_type.strip().lower()
    if t == "timestamp":
        return pa.array([None if v is None else parse_timestamp(v) for v in values], type=pa.timestamp("us"))
    if t.startswith("decimal"):
        digits = re.search(r"\((\d+)\s*,\s*(\d+)\)", t)
        precision, scale = (int(digits.group(1)), int(digits.group(2))) if digits else (38, 9)
        exact = [None if v is None else exact_decimal(str(v), t) for v in values]
        return pa.array(exact, type=pa.decimal128(precision, scale))
    if t in ("double", "float"):
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    if t in ("int", "integer"):
        return pa.array(values, type=pa.int32())
    if t == "bigint":
        return pa.array(values, type=pa.int64())
    return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _encode_parquet(table: TableLayout, records: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    typed = zip(table.fields, table.data_types, strict=True)
    columns = [_arrow_column(data_type, [r.get(name) for r in records]) for name, data_type in typed]
    out = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(columns, names=list(table.fields)), out, compression="zstd")
    return out.getvalue()
