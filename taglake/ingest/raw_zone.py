"""Accepted records written to the raw zone as the dbt sources read them: the table's folder, the landing
partition `year=YYYY/month=MM/day=DD` (the UTC date the batch arrived), and the table's file format (JSON lines, or
CSV with the declared header), one new file per batch whose name the table's glob reads and no other batch shares,
so nothing already landed is ever overwritten.

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

INGESTIBLE_FORMATS = ("jsonl", "csv")


@dataclass(frozen=True)
class TableLayout:
    """What the writer needs of a raw table, read from its registry schema (the Lambda has no source YAML)."""

    source: str
    table: str
    raw_prefix: str
    format: str
    fields: tuple[str, ...]  # the file fields, in file (YAML) order

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
    ext = {"jsonl": "jsonl", "csv": "csv"}[table.format]
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
    raise ValueError(f"{table.name}: the ingestion API writes {', '.join(INGESTIBLE_FORMATS)}, not {table.format}")
