"""The raw Glue databases and tables, generated from the dbt source YAML (`taglake catalog`).

One source of truth: every column, type, partition key, format and description comes from
`taglake.core.sources.catalog_tables()`, which reads `models/staging/<source>/_<source>__sources.yml`. Tables use
partition projection (year/month/day as zero-padded integers, as `taglake generate` and the landing jobs
write them), so no crawler and no `MSCK REPAIR TABLE` is needed. Running it again changes nothing: a table is
updated only when what Glue holds differs from what the YAML says.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core.sources import SourceTable, catalog_tables

# Glue limits: a column comment holds at most 255 characters, a table or database description 2,048.
COLUMN_COMMENT_MAX = 255
DESCRIPTION_MAX = 2048

_SIMPLE_TYPES = {
    "string": "string",
    "varchar": "string",
    "text": "string",
    "int": "int",
    "integer": "int",
    "bigint": "bigint",
    "smallint": "smallint",
    "tinyint": "tinyint",
    "double": "double",
    "float": "float",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}
_DECIMAL = re.compile(r"^decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")

PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
# A JSON line is read whole into its one column: \x01 (the delimiter) never occurs in JSON text, so nothing splits
# it, and a malformed line reaches staging (where it is quarantined) instead of failing a JSON reader.
WHOLE_LINE_DELIMITER = "\u0001"


class CatalogError(ValueError):
    """The source YAML declares something the catalog cannot register."""


def hive_type(data_type: str) -> str:
    """The Hive (Glue) type of a source column's `data_type`."""
    t = data_type.strip().lower()
    if t in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[t]
    m = _DECIMAL.match(t)
    if m:
        return f"decimal({m.group(1)},{m.group(2)})"
    raise CatalogError(f"no Glue type for data_type {data_type!r}")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def s3_uri(bucket: str, *parts: str) -> str:
    """s3://bucket/part/part/ with single slashes and a trailing slash (a folder)."""
    path = "/".join(p.strip("/") for p in parts if p.strip("/"))
    return f"s3://{bucket}/{path}/" if path else f"s3://{bucket}/"


def table_location(table: SourceTable, bucket: str, prefix: str) -> str:
    """Where a raw table's files are: s3://bucket/prefix/<source>/<table>/, the local lake/raw/ layout."""
    return s3_uri(bucket, prefix, table.raw_prefix, table.table)


def _storage_format(table: SourceTable) -> dict[str, Any]:
    options = dict(table.format_options)
    if table.format == "parquet":
        return json.loads(json.dumps(PARQUET))
    if table.format == "csv":
        params = {
            "separatorChar": str(options.get("delimiter", ",")),
            "quoteChar": str(options.get("quote", '"')),
            "escapeChar": str(options.get("escape", "\\")),
        }
        return {
            "InputFormat": TEXT_INPUT,
            "OutputFormat": TEXT_OUTPUT,
            "SerdeInfo": {"SerializationLibrary": OPEN_CSV_SERDE, "Parameters": params},
        }
    if table.format == "jsonl":
        return {
            "InputFormat": TEXT_INPUT,
            "OutputFormat": TEXT_OUTPUT,
            "SerdeInfo": {
                "SerializationLibrary": LAZY_SIMPLE_SERDE,
                "Parameters": {"field.delim": WHOLE_LINE_DELIMITER, "serialization.format": WHOLE_LINE_DELIMITER},
            },
        }
    raise CatalogError(f"{table.name}: no Glue storage format for format {table.format!r}")


def _classification(table: SourceTable) -> str:
    return {"parquet": "parquet", "csv": "csv", "jsonl": "text"}[table.format]


def projection_parameters(table: SourceTable, location: str) -> dict[str, str]:
    """Partition projection over year=YYYY/month=MM/day=DD: integer ranges, month and day zero-padded."""
    keys = [c.name for c in table.partition_keys]
    if keys != ["year", "month", "day"]:
        raise CatalogError(f"{table.name}: partition projection expects partition keys year, month, day, not {keys}")
    if not re.fullmatch(r"\d{4},\d{4}", table.partition_years):
        raise CatalogError(f"{table.name}: meta.partition_years is 'first,last', not {table.partition_years!r}")
    return {
        "projection.enabled": "true",
        "projection.year.type": "integer",
        "projection.year.range": table.partition_years,
        "projection.month.type": "integer",
        "projection.month.range": "1,12",
        "projection.month.digits": "2",
        "projection.day.type": "integer",
        "projection.day.range": "1,31",
        "projection.day.digits": "2",
        "storage.location.template": location + "year=${year}/month=${month}/day=${day}/",
    }


def _column(name: str, data_type: str, description: str) -> dict[str, str]:
    col = {"Name": name, "Type": hive_type(data_type)}
    if description:
        col["Comment"] = _clip(" ".join(description.split()), COLUMN_COMMENT_MAX)
    return col


def table_input(table: SourceTable, location: str) -> dict[str, Any]:
    """The Glue TableInput of a source table whose files are under `location`."""
    storage = _storage_format(table)
    columns = [_column(c.name, c.data_type, c.description) for c in table.columns if not c.partition_key]
    parameters = {"classification": _classification(table), "EXTERNAL": "TRUE", "taglake.source": table.name}
    header_lines = dict(table.format_options).get("header_lines")
    if header_lines:
        parameters["skip.header.line.count"] = str(header_lines)
    if table.partition_keys:
        parameters.update(projection_parameters(table, location))
    result: dict[str, Any] = {
        "Name": table.table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "StorageDescriptor": {"Columns": columns, "Location": location, **storage},
        "PartitionKeys": [_column(c.name, c.data_type, c.description) for c in table.partition_keys],
    }
    description = table.description or table.source_description
    if description:
        result["Description"] = _clip(description, DESCRIPTION_MAX)
    return result


@dataclass(frozen=True)
class CatalogPlan:
    """What the catalog should hold: database name → description, and (database, TableInput) per table."""

    databases: dict[str, str]
    tables: list[tuple[str, dict[str, Any]]]


def plan_catalog(
    *,
    bucket: str,
    prefix: str = "raw",
    keys_location: str | None = None,
    database_names: Mapping[str, str] | None = None,
    project_dir: Path | None = None,
) -> CatalogPlan:
    """The databases and tables for the raw lake under s3://bucket/prefix/, and the masking key table when
    `keys_location` (its restricted S3 folder) is given. `database_names` renames a source's `schema:`."""
    rename = dict(database_names or {})
    databases: dict[str, str] = {}
    tables: list[tuple[str, dict[str, Any]]] = []
    for table in catalog_tables(project_dir).values():
        if table.restricted:
            if not keys_location:
                continue
            location = keys_location if keys_location.endswith("/") else keys_location + "/"
            if not location.startswith("s3://") or location.startswith(s3_uri(bucket, prefix)):
                raise CatalogError(f"--keys-location must be an S3 folder outside the raw zone, not {keys_location}")
        else:
            location = table_location(table, bucket, prefix)
        database = rename.get(table.schema, table.schema)
        databases.setdefault(database, _clip(table.source_description, DESCRIPTION_MAX))
        tables.append((database, table_input(table, location)))
    return CatalogPlan(databases=databases, tables=tables)


def _differs(wanted: Any, have: Any) -> bool:
    """True when `have` (what Glue returned) lacks or changes anything `wanted` sets. Keys Glue adds to a table
    (CreateTime, DatabaseName, …) are ignored; a list (the columns) must match item by item, and a column that
    holds a key `wanted` does not set (a comment the YAML dropped) differs."""
    if isinstance(wanted, dict):
        return not isinstance(have, dict) or any(_differs(v, have.get(k)) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            not isinstance(have, list)
            or len(wanted) != len(have)
            or any(_item_differs(w, h) for w, h in zip(wanted, have, strict=True))
        )
    return wanted != have


# Table parameters this module writes: one Glue holds but the plan lacks (a projection setting or header count the
# YAML no longer implies) is a difference too. Others (set by Athena, Lake Formation, people) are kept on update.
MANAGED_PARAMETERS = (
    "classification",
    "EXTERNAL",
    "taglake.source",
    "skip.header.line.count",
    "projection.",
    "storage.",
)


def _table_differs(wanted: dict[str, Any], have: dict[str, Any]) -> bool:
    managed = {k: v for k, v in (have.get("Parameters") or {}).items() if k.startswith(MANAGED_PARAMETERS)}
    return managed != wanted.get("Parameters", {}) or _differs(wanted, have)


def _item_differs(wanted: Any, have: Any) -> bool:
    if isinstance(wanted, dict) and isinstance(have, dict) and set(have) - set(wanted) - {"Parameters"}:
        return True
    return _differs(wanted, have)


def sync_catalog(glue: Any, plan: CatalogPlan) -> list[tuple[str, str]]:
    """Make the Glue catalog hold the plan: create what is missing, update what differs, leave the rest.
    Returns (database or database.table, created | updated | unchanged) in plan order."""
    report: list[tuple[str, str]] = []
    for database, description in plan.databases.items():
        try:
            have = glue.get_database(Name=database)["Database"]
        except glue.exceptions.EntityNotFoundException:
            glue.create_database(DatabaseInput={"Name": database, "Description": description})
            report.append((database, "created"))
            continue
        if (have.get("Description") or "") != description:
            glue.update_database(Name=database, DatabaseInput={"Name": database, "Description": description})
            report.append((database, "updated"))
        else:
            report.append((database, "unchanged"))
    for database, wanted in plan.tables:
        name = f"{database}.{wanted['Name']}"
        try:
            have = glue.get_table(DatabaseName=database, Name=wanted["Name"])["Table"]
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=database, TableInput=wanted)
            report.append((name, "created"))
            continue
        if _table_differs(wanted, have):
            kept = {k: v for k, v in (have.get("Parameters") or {}).items() if not k.startswith(MANAGED_PARAMETERS)}
            update = {**wanted, "Parameters": {**kept, **wanted["Parameters"]}}
            glue.update_table(DatabaseName=database, TableInput=update)
            report.append((name, "updated"))
        else:
            report.append((name, "unchanged"))
    return report


def glue_client(*, region: str | None = None, endpoint_url: str | None = None) -> Any:
    import boto3

    return boto3.client("glue", region_name=region, endpoint_url=endpoint_url)
