"""Run an analysis or ad hoc SQL against a target and show the result (`taglake query`).

Only consumption relations — the marts, the reference seeds and the snapshots: the consumption layers of the
access declaration, vars.access in dbt_project.yml — are reachable outside the system targets, and the engine
enforces it, not a pattern on the SQL text. On every engine an unqualified name is a mart: the query runs with the
marts schema as its default (DuckDB `use <build>.<schema>_marts`; Athena the workgroup's database `<schema>_marts`;
Redshift `search_path` `<schema>_marts`), so `select * from fct_customer_tags` reads the same relation everywhere:
- local targets: the SQL runs on a locked DuckDB connection to a copy of the build's consumption relations,
  published beside the build by the tool itself (taglake.ops.consumption): no file, URL, extension,
  ATTACH, COPY, SET or other database is reachable, whatever name the SQL builds at run time.
- Athena: the SQL is checked as data (taglake.ops.sql_policy: one read-only query over `<schema>_<layer>` of the
  consumption layers), then runs in the workgroup; Lake Formation and the analysts' workgroup enforce it in AWS
  (docs/deployment.md). boto3 starts the query, polls, reads every result page and reports the data scanned and its
  cost.
- Redshift: checked as on Athena (dialect redshift; an unqualified table must be a mart or a CTE), then run over
  psycopg2 with the target's settings from profiles.yml (taglake.ops.query_redshift); the generated grants enforce it.
Ad hoc SQL is never compiled by dbt: its only Jinja may be `{{ ref('<mart, seed or snapshot>') }}`, replaced from a
fixed mapping, and `{{ var('<name>'[, default]) }}`, replaced by its `--vars` value (values plain codes, numbers or
dates, checked as `taglake dbt --vars` is: taglake.ops.dbt_guard). Analyses are project files (analyses/), compiled
by dbt for the target with `--vars` passed on — all of them in one dbt call, kept under target/query_cache/ until
a file, var or setting they depend on changes (taglake.ops.analysis_cache) — and their SQL then runs under the
same checks and the same lock. SQL naming the vault is
refused outside the system account's targets (`*_system`), which need the system identity
(taglake.privacy.system_identity): see docs/privacy.md.
"""

from __future__ import annotations

import csv
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core import targets
from taglake.core.errors import TaglakeError, hint_for
from taglake.core.project import Project
from taglake.core.targets import is_system_target
from taglake.ops.sql_policy import (
    QueryRefused,
    check_athena_sql,
    check_duckdb_select,
    check_redshift_sql,
    consumption_models,
    expand_refs,
    expand_vars,
    has_jinja,
    ref_resolver,
)
from taglake.privacy.dbt_runner import local_database

__all__ = ["QueryFailed", "QueryRefused", "QueryResult"]

# Athena bills the bytes scanned, rounded up to the megabyte, at least 10 MB a query; TB here is 1024⁴ bytes.
USD_PER_TB = 5.0
BILLING_MB = 1024**2
BILLING_MINIMUM_MB = 10
TB = 1024**4

_VAULT = re.compile(r"vault", re.IGNORECASE)
_ANALYSIS_NAME = re.compile(r"[a-z][a-z0-9_]{0,100}")
# The schema the local profile outputs build into (profiles.yml: `schema: taglake`).
LOCAL_SCHEMA = "taglake"
# The consumption layer unqualified names resolve in, on every engine (Athena: the workgroup's default database).
DEFAULT_LAYER = "marts"


class QueryFailed(TaglakeError, RuntimeError):
    """The engine ran the query and it failed."""


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    scanned_bytes: int | None = None  # Athena only
    query_id: str | None = None


def engine_of(target: str) -> str:
    """duckdb | athena | redshift: the type of the target's output in profiles.yml (taglake.core.targets)."""
    try:
        return targets.engine_of(target)
    except targets.UnknownTarget as err:
        raise QueryRefused(str(err)) from None


def parse_query_vars(text: str | None, target: str) -> dict[str, Any]:
    """`--vars` (YAML or JSON, as dbt's) as a mapping: QueryRefused, one line naming --vars and never the value,
    when it does not parse as a mapping or (outside the system targets) sets a privacy setting or holds a value
    that is not a plain code, number or date (taglake.ops.dbt_guard, the rule `taglake dbt --vars` follows)."""
    from taglake.ops.dbt_guard import DbtRefused, parse_vars

    if text is None:
        return {}
    try:
        return parse_vars(text, check_policy=not is_system_target(target))
    except DbtRefused as refused:
        raise QueryRefused(str(refused)) from None


def project_plain_vars(project: Project) -> dict[str, Any]:
    """The project's vars (dbt_project.yml) that ad hoc SQL's var() may read: plain scalars whose name is no
    privacy setting (the tag thresholds, absurd_amount_twd, …)."""
    from taglake.core.sources import load_yaml
    from taglake.ops.dbt_guard import is_plain_var_value, is_privacy_var

    doc = load_yaml((project.root / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    return {
        str(name): value
        for name, value in (doc.get("vars") or {}).items()
        if not is_privacy_var(str(name)) and not isinstance(value, list | dict) and is_plain_var_value(value)
    }


def default_schema(target: str) -> str | None:
    """The schema unqualified names resolve in on the target: `<schema>_marts` (None when the schema is not set)."""
    engine = engine_of(target)
    schema = {
        "duckdb": LOCAL_SCHEMA,
        "athena": os.environ.get("TAGLAKE_ATHENA_SCHEMA"),
        "redshift": os.environ.get("TAGLAKE_REDSHIFT_SCHEMA"),
    }[engine]
    return f"{schema}_{DEFAULT_LAYER}" if schema else None


def check_vault(sql: str, target: str) -> None:
    """Refuse SQL naming the vault (its schema `<schema>_vault` or a vault model) outside the system targets."""
    if _VAULT.search(sql) and not is_system_target(target):
        raise QueryRefused("the SQL names the vault, which only the system account's targets (*_system) may query")


def analysis_names(project: Project) -> list[str]:
    return sorted(p.stem for p in (project.root / "analyses").glob("*.sql"))


def analysis_text(project: Project, name: str) -> str:
    """The text of analyses/<name>.sql; the name must be one of the analyses there (no path, no other file)."""
    available = analysis_names(project)
    if not _ANALYSIS_NAME.fullmatch(name) or name not in available:
        raise AnalysisNotFound(f"no analysis by that name under analyses/ (there are: {', '.join(available)})")
    return (project.root / "analyses" / f"{name}.sql").read_text(encoding="utf-8")


class AnalysisNotFound(TaglakeError, FileNotFoundError):
    """The analysis named is not one of the files under analyses/."""


def _read_sql_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise QueryRefused("--file: the file does not exist, cannot be read, or is not UTF-8 text") from None


def _expand_ad_hoc(
    project: Project,
    target: str,
    text: str,
    compile_sql: Callable[..., str],
    dbt_vars: Mapping[str, Any],
) -> str:
    """Ad hoc SQL's vars and refs, replaced by values and relation names; anything else is refused before anything
    runs."""
    engine = engine_of(target)
    models = consumption_models(project.root)
    if is_system_target(target):
        # The system account may ref any model (the vault too), so dbt resolves it; the text holds nothing else,
        # which the dry expansion proves first.
        expand_refs(expand_vars(text, {**project_plain_vars(project), **dbt_vars}), lambda name, version: "x")
        return compile_sql(project, text, target, dbt_vars) if dbt_vars else compile_sql(project, text, target)
    text = expand_vars(text, {**project_plain_vars(project), **dbt_vars})
    if engine == "duckdb":
        return expand_refs(text, ref_resolver(models, LOCAL_SCHEMA))
    if engine == "athena":
        schema = os.environ.get("TAGLAKE_ATHENA_SCHEMA")
        if not schema:
            raise QueryRefused("set TAGLAKE_ATHENA_SCHEMA: ref() in ad hoc SQL resolves to <schema>_marts")
        return expand_refs(text, ref_resolver(models, schema, catalog="awsdatacatalog"))
    schema = os.environ.get("TAGLAKE_REDSHIFT_SCHEMA")
    if not schema:
        raise QueryRefused("set TAGLAKE_REDSHIFT_SCHEMA: ref() in ad hoc SQL resolves to <schema>_marts")
    return expand_refs(text, ref_resolver(models, schema))


def _compile_with_dbt(project: Project, text: str, target: str, dbt_vars: Mapping[str, Any] | None = None) -> str:
    from taglake.privacy.dbt_runner import compile_inline

    return compile_inline(project, text, target=target, dbt_vars=dbt_vars or None)


def resolve_sql(
    project: Project,
    target: str,
    *,
    analysis: str | None = None,
    sql: str | None = None,
    sql_file: Path | None = None,
    compile_sql: Callable[..., str] | None = None,
    dbt_vars: Mapping[str, Any] | None = None,
) -> str:
    """The SQL to run: an analysis compiled by dbt for the target (with `dbt_vars` as --vars), or ad hoc SQL whose
    only Jinja may be a ref of a consumption model and a var, resolved without dbt. The vault guard checks both the
    text and the result. Outside the system targets an analysis comes from the compiled analyses kept under
    target/query_cache/ (taglake.ops.analysis_cache: all of them compiled in one dbt call, again whenever a file,
    var or setting they depend on changes); `compile_sql`, when given, compiles it instead, every call."""
    given = [x for x in (analysis, sql, sql_file) if x is not None]
    if len(given) != 1:
        raise QueryRefused("give exactly one of: an analysis name, --sql, --file")
    engine_of(target)
    cached = compile_sql is None and not is_system_target(target)
    compile_sql = compile_sql or _compile_with_dbt
    dbt_vars = dict(dbt_vars or {})
    if analysis is not None:
        text = analysis_text(project, analysis)
        check_vault(text, target)
        source = text

        def compile_one() -> str:
            return compile_sql(project, source, target, dbt_vars) if dbt_vars else compile_sql(project, source, target)

        if cached:
            from taglake.ops.analysis_cache import compiled_analysis

            text = compiled_analysis(project, target, analysis, dbt_vars, compile_one=compile_one)
        else:
            text = compile_one()
    else:
        text = _read_sql_file(sql_file) if sql_file is not None else str(sql)
        check_vault(text, target)
        if has_jinja(text):
            text = _expand_ad_hoc(project, target, text, compile_sql, dbt_vars)
    check_vault(text, target)
    return text.strip().rstrip(";").strip()


# ---- DuckDB ---------------------------------------------------------------------------------------------------


def run_duckdb(
    database: Path, sql: str, *, catalog: str | None = None, schema: str | None = f"{LOCAL_SCHEMA}_{DEFAULT_LAYER}"
) -> QueryResult:
    """Run one SELECT on a locked, read-only connection to `database` (attached as `catalog`, by default its file
    stem; unqualified names resolve in its `schema`, the marts): no file, URL or extension access, configuration
    frozen (taglake.ops.consumption)."""
    import duckdb

    from taglake.ops.consumption import locked_connection

    check_duckdb_select(sql)
    if not database.is_file():
        raise QueryFailed(f"no local build at {database}: run `taglake build` first")
    try:
        with locked_connection(database, catalog=catalog or database.stem, schema=schema) as con:
            rel = con.sql(sql)
            if rel is None:
                return QueryResult(columns=[], rows=[])
            return QueryResult(columns=list(rel.columns), rows=rel.fetchall())
    except duckdb.Error as exc:
        # DuckDB's text quotes the SQL and sometimes values: only its class and what to check.
        raise QueryFailed(f"the query failed on DuckDB ({type(exc).__name__}): {hint_for(exc)}") from None


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


class _TimedOut(Exception):
    """Raised from the poll callback when a query outlives its timeout."""


def athena_connection(
    settings: AthenaSettings,
    *,
    session: Any = None,
    endpoint_url: str | None = None,
    poll_seconds: float = 1.0,
) -> Any:
    """A PyAthena connection in the target's workgroup, result location and default database: PyAthena starts the
    query, polls it and pages its result (`session`: a boto3 Session, for its credentials and event hooks)."""
    import pyathena

    return pyathena.connect(
        region_name=settings.region,
        work_group=settings.workgroup,
        s3_staging_dir=settings.output_location,
        schema_name=settings.database,
        catalog_name=settings.catalog,
        poll_interval=poll_seconds,
        session=session,
        endpoint_url=endpoint_url,
    )


def run_athena(connection: Any, sql: str, *, timeout_seconds: float = 1800.0) -> QueryResult:
    """Run the query through PyAthena and read every row of its result. A failure names the query and Athena's
    error code only: Athena's reason can quote the SQL and its values."""
    from pyathena.error import Error as AthenaError

    started = time.monotonic()

    def on_poll(execution: Any) -> None:
        if execution.state in ("QUEUED", "RUNNING") and time.monotonic() - started >= timeout_seconds:
            raise _TimedOut(execution.query_id)

    cursor = connection.cursor(on_poll=on_poll)
    try:
        cursor.execute(sql)
    except _TimedOut as timed_out:
        cursor.cancel()
        raise QueryFailed(f"Athena query {timed_out} still running after {timeout_seconds:.0f} s: stopped") from None
    except AthenaError as failed:  # its text is Athena's reason: read its error code, show nothing else of it
        code = re.match(r"[A-Z][A-Z_]{2,60}\b", str(failed))
        detail = f" ({code.group(0)})" if code else ""
        state = (cursor.state or "failed").lower()
        raise QueryFailed(
            f"Athena query {cursor.query_id} {state}{detail}: check the SQL and the permissions"
        ) from None
    columns = [d[0] for d in cursor.description or []]
    rows = [tuple(row) for row in cursor.fetchall()] if columns else []
    return QueryResult(
        columns=columns, rows=rows, scanned_bytes=int(cursor.data_scanned_in_bytes or 0), query_id=cursor.query_id
    )


def athena_cost_usd(scanned_bytes: int, usd_per_tb: float = USD_PER_TB) -> float:
    """What Athena bills for a query that scanned this much: rounded up to the MB, at least 10 MB."""
    billed_mb = max(BILLING_MINIMUM_MB, math.ceil(scanned_bytes / BILLING_MB))
    return billed_mb * BILLING_MB / TB * usd_per_tb


# ---- output ---------------------------------------------------------------------------------------------------


def format_result(result: QueryResult, limit: int | None) -> str:
    """An aligned table of the first `limit` rows, with a note of the rows left out."""
    from taglake.core.text_tables import format_table

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
    connection: Any = None,
) -> QueryResult:
    """Run resolved SQL on the target's engine: outside the system targets, on the consumption relations only;
    unqualified names are marts on every engine."""
    check_vault(sql, target)
    engine = engine_of(target)
    if engine == "duckdb":
        from taglake.ops.consumption import publish

        build = (db_path or local_database(project, target)).resolve()
        check_duckdb_select(sql)
        if is_system_target(target):
            return run_duckdb(build, sql)
        return run_duckdb(publish(build, project_dir=project.root), sql, catalog=build.stem)
    if engine == "athena":
        if not is_system_target(target):
            check_athena_sql(sql, os.environ.get("TAGLAKE_ATHENA_SCHEMA"), project.root)
        return run_athena(connection or athena_connection(athena or athena_settings(target)), sql)
    return _run_on_redshift(project, target, sql, connection)


def _run_on_redshift(project: Project, target: str, sql: str, connection: Any) -> QueryResult:
    from taglake.ops import query_redshift

    settings = query_redshift.redshift_settings(project, target)
    if not is_system_target(target):
        check_redshift_sql(sql, settings.schema, project.root, database=settings.dbname)
    own = connection is None
    connection = connection or query_redshift.connect(settings)
    try:
        columns, rows = query_redshift.run_redshift(connection, sql)
    finally:
        if own:
            connection.close()
    return QueryResult(columns=columns, rows=rows)
