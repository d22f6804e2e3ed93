"""Run an analysis or ad hoc SQL against a target and show the result (`taglake query`).

Local targets read the DuckDB build read-only; Athena targets go through boto3 (start_query_execution in the
workgroup, poll, get_query_results page by page) and report the data scanned and what it costs. SQL that names the
vault is refused unless the target is a system account's target (`*_system`): a guard against mistakes, not the
access control (that is Lake Formation and IAM, docs/deployment.md).
"""

from __future__ import annotations

import csv
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from taglake.project import Project

# Athena bills the bytes scanned, rounded up to the megabyte, at least 10 MB a query; TB here is 1024⁴ bytes.
USD_PER_TB = 5.0
BILLING_MB = 1024**2
BILLING_MINIMUM_MB = 10
TB = 1024**4

_VAULT = re.compile(r"vault", re.IGNORECASE)
_JINJA = re.compile(r"{{|{%")


class QueryRefused(ValueError):
    """The SQL may not run on this target."""


class QueryFailed(RuntimeError):
    """The engine ran the query and it failed."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    scanned_bytes: int | None = None  # Athena only
    query_id: str | None = None


def engine_of(target: str) -> str:
    """duckdb | athena | redshift, from the target's name (the profile's naming: local*, athena*, redshift*)."""
    for engine, prefix in (("duckdb", "local"), ("athena", "athena"), ("redshift", "redshift")):
        if target == prefix or target.startswith(f"{prefix}_"):
            return engine
    raise ValueError(f"unknown target {target!r}: local, athena, redshift or their *_system variants")


def is_system_target(target: str) -> bool:
    return target.endswith("_system")


def check_vault(sql: str, target: str) -> None:
    """Refuse SQL naming the vault (its schema `<schema>_vault` or a vault model) outside the system targets."""
    if _VAULT.search(sql) and not is_system_target(target):
        raise QueryRefused(
            f"the SQL names the vault, which only the system account's targets (*_system) may query, not {target!r}"
        )


def analysis_text(project: Project, name: str) -> str:
    path = project.root / "analyses" / f"{name}.sql"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in (project.root / "analyses").glob("*.sql")))
        raise FileNotFoundError(f"no analysis named {name!r} under analyses/ (there are: {available})")
    return path.read_text(encoding="utf-8")


def resolve_sql(
    project: Project,
    target: str,
    *,
    analysis: str | None = None,
    sql: str | None = None,
    sql_file: Path | None = None,
    compile_sql: Callable[[Project, str, str], str] | None = None,
) -> str:
    """The SQL to run: an analysis compiled by dbt for the target, or ad hoc SQL (compiled too when it holds Jinja,
    e.g. `{{ ref('dim_customers') }}`). The vault guard checks both the text and the compiled SQL."""
    given = [x for x in (analysis, sql, sql_file) if x is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of: an analysis name, --sql, --file")
    if analysis is not None:
        text = analysis_text(project, analysis)
    elif sql_file is not None:
        text = sql_file.read_text(encoding="utf-8")
    else:
        text = str(sql)
    check_vault(text, target)
    if analysis is not None or _JINJA.search(text):
        if compile_sql is None:
            from taglake.dbt import compile_inline

            text = compile_inline(project, text, target=target)
        else:
            text = compile_sql(project, text, target)
        check_vault(text, target)
    return text.strip().rstrip(";")


# ---- DuckDB ---------------------------------------------------------------------------------------------------


def local_database(project: Project, target: str) -> Path:
    """The DuckDB file a local target builds: the project's, or the system build for `local_system`."""
    if target == "local_system":
        default = project.root / "build" / "taglake_system.duckdb"
        return (project.root / os.environ.get("TAGLAKE_SYSTEM_DUCKDB_PATH", default)).resolve()
    return project.duckdb_path


def run_duckdb(db_path: Path, sql: str) -> QueryResult:
    """Run the query on the DuckDB build, read-only."""
    import duckdb

    if not db_path.is_file():
        raise FileNotFoundError(f"no local build at {db_path}: run `taglake build` first")
    with duckdb.connect(str(db_path), read_only=True) as con:
        rel = con.sql(sql)
        if rel is None:
            return QueryResult(columns=[], rows=[])
        return QueryResult(columns=list(rel.columns), rows=rel.fetchall())


# ---- Athena ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AthenaSettings:
    region: str | None
    workgroup: str | None
    output_location: str | None
    database: str | None = None  # for unqualified table names
    catalog: str = "AwsDataCatalog"


def athena_settings(
    target: str,
    *,
    region: str | None = None,
    workgroup: str | None = None,
    output_location: str | None = None,
    database: str | None = None,
) -> AthenaSettings:
    """The target's settings from the TAGLAKE_* variables profiles.yml reads (docs/deployment.md), each
    overridden by its argument; unqualified names resolve in `<TAGLAKE_ATHENA_SCHEMA>_marts`."""
    system = "SYSTEM_" if is_system_target(target) else ""
    env = os.environ.get
    schema = env("TAGLAKE_ATHENA_SCHEMA")
    return AthenaSettings(
        region=region or env("TAGLAKE_AWS_REGION"),
        workgroup=workgroup or env(f"TAGLAKE_ATHENA_{system}WORK_GROUP"),
        output_location=output_location or env(f"TAGLAKE_ATHENA_{system}S3_STAGING_DIR"),
        database=database or (f"{schema}_marts" if schema else None),
    )


def _athena_value(text: str | None, athena_type: str) -> Any:
    if text is None:
        return None
    t = athena_type.lower()
    try:
        if t in ("tinyint", "smallint", "integer", "int", "bigint"):
            return int(text)
        if t in ("double", "float", "real"):
            return float(text)
        if t.startswith("decimal"):
            return Decimal(text)
    except ValueError:
        return text
    return text


def run_athena(
    client: Any,
    sql: str,
    settings: AthenaSettings,
    *,
    poll_seconds: float = 1.0,
    timeout_seconds: float = 1800.0,
    sleep: Callable[[float], None] = time.sleep,
) -> QueryResult:
    """Start the query in the workgroup, wait for it, and read every page of its result."""
    request: dict[str, Any] = {"QueryString": sql}
    if settings.workgroup:
        request["WorkGroup"] = settings.workgroup
    if settings.output_location:
        request["ResultConfiguration"] = {"OutputLocation": settings.output_location}
    if settings.database:
        request["QueryExecutionContext"] = {"Database": settings.database, "Catalog": settings.catalog}
    query_id = client.start_query_execution(**request)["QueryExecutionId"]
    waited = 0.0
    while True:
        execution = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if state == "SUCCEEDED":
            break
        if state in ("FAILED", "CANCELLED"):
            reason = execution["Status"].get("StateChangeReason", "")
            raise QueryFailed(f"Athena query {query_id} {state.lower()}: {reason}")
        if waited >= timeout_seconds:
            client.stop_query_execution(QueryExecutionId=query_id)
            raise QueryFailed(f"Athena query {query_id} still {state.lower()} after {timeout_seconds:.0f} s: stopped")
        sleep(poll_seconds)
        waited += poll_seconds
    scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
    columns: list[str] = []
    types: list[str] = []
    rows: list[tuple[Any, ...]] = []
    first = True
    for page in client.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        result_set = page["ResultSet"]
        if first:
            info = result_set.get("ResultSetMetadata", {}).get("ColumnInfo", [])
            columns = [c.get("Label") or c["Name"] for c in info]
            types = [c.get("Type", "varchar") for c in info]
        page_rows = [[d.get("VarCharValue") for d in r.get("Data", [])] for r in result_set.get("Rows", [])]
        if first and page_rows and page_rows[0] == columns:
            page_rows = page_rows[1:]  # a SELECT's result starts with the column labels
        first = False
        rows.extend(tuple(_athena_value(v, t) for v, t in zip(r, types, strict=False)) for r in page_rows)
    return QueryResult(columns=columns, rows=rows, scanned_bytes=scanned, query_id=query_id)


def athena_cost_usd(scanned_bytes: int, usd_per_tb: float = USD_PER_TB) -> float:
    """What Athena bills for a query that scanned this much: rounded up to the MB, at least 10 MB."""
    billed_mb = max(BILLING_MINIMUM_MB, math.ceil(scanned_bytes / BILLING_MB))
    return billed_mb * BILLING_MB / TB * usd_per_tb


def athena_client(*, region: str | None = None, endpoint_url: str | None = None) -> Any:
    import boto3

    return boto3.client("athena", region_name=region, endpoint_url=endpoint_url)


# ---- output ---------------------------------------------------------------------------------------------------


def format_result(result: QueryResult, limit: int | None) -> str:
    """An aligned table of the first `limit` rows, with a note of the rows left out."""
    from taglake.tables import format_table

    if not result.columns:
        return "(the statement returned no result set)"
    if not result.rows:
        return format_table(result.columns, []) + "\n(no rows)"
    shown = result.rows if limit is None else result.rows[:limit]
    text = format_table(result.columns, shown)
    if len(shown) < len(result.rows):
        text += f"\n… {len(result.rows) - len(shown):,} more rows (use --limit or --csv)"
    return text


def scan_summary(scanned_bytes: int, usd_per_tb: float = USD_PER_TB) -> str:
    cost = athena_cost_usd(scanned_bytes, usd_per_tb)
    return (
        f"data scanned: {scanned_bytes:,} bytes; cost: USD {cost:.6f} at USD {usd_per_tb:g} per TB "
        f"(billed per MB, {BILLING_MINIMUM_MB} MB minimum)"
    )


def write_csv(result: QueryResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(result.columns)
        writer.writerows(result.rows)


def run_query(
    project: Project,
    target: str,
    sql: str,
    *,
    db_path: Path | None = None,
    athena: AthenaSettings | None = None,
    client: Any = None,
) -> QueryResult:
    """Run resolved SQL on the target's engine."""
    check_vault(sql, target)
    engine = engine_of(target)
    if engine == "duckdb":
        return run_duckdb(db_path or local_database(project, target), sql)
    if engine == "athena":
        settings = athena or athena_settings(target)
        return run_athena(client or athena_client(region=settings.region), sql, settings)
    raise ValueError("taglake query runs on local and athena targets; on Redshift use the query editor or psql")
