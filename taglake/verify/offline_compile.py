"""Compile every dbt node for the AWS targets with no AWS account and no network, and check the SQL parses.

`dbt --no-populate-cache compile --no-introspect` renders every model, test, snapshot and analysis without opening
a connection: nothing is introspected, so neither Athena (STS, Glue) nor Redshift is contacted. To prove it rather
than assume it, the compile runs with AWS credentials removed and every AWS endpoint pointed at a closed port on
127.0.0.1: a call, were one made, would fail the compile. Docs: docs/verification.md.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from taglake.core import targets
from taglake.core.artifacts import read_manifest
from taglake.core.project import Project
from taglake.core.scratch import scratch_project
from taglake.privacy import dbt_runner
from taglake.privacy.dbt_runner import DbtError, offline_compile_args

# The dialect each engine's SQL is parsed in: sqlglot's and sqlfluff's names.
SQLGLOT_DIALECTS = {"athena": "athena", "redshift": "redshift"}
SQLFLUFF_DIALECTS = {"athena": "athena", "redshift": "redshift"}

# Placeholders for the variables profiles.yml reads, used only where the variable is unset: compiling needs a value,
# never a real one (nothing is contacted).
PLACEHOLDER_ENV: dict[str, str] = {
    "TAGLAKE_AWS_REGION": "ap-northeast-1",
    "TAGLAKE_ATHENA_SCHEMA": "taglake",
    "TAGLAKE_ATHENA_S3_STAGING_DIR": "s3://offline-results/taglake/",
    "TAGLAKE_ATHENA_S3_DATA_DIR": "s3://offline-curated/taglake/",
    "TAGLAKE_ATHENA_WORK_GROUP": "taglake-pipeline",
    "TAGLAKE_ATHENA_SYSTEM_S3_STAGING_DIR": "s3://offline-restricted-results/taglake/",
    "TAGLAKE_ATHENA_SYSTEM_S3_DATA_DIR": "s3://offline-restricted/taglake/",
    "TAGLAKE_ATHENA_SYSTEM_WORK_GROUP": "taglake-system",
    "TAGLAKE_REDSHIFT_METHOD": "iam",
    "TAGLAKE_REDSHIFT_HOST": "offline.invalid",
    "TAGLAKE_REDSHIFT_PORT": "5439",
    "TAGLAKE_REDSHIFT_DATABASE": "dw",
    "TAGLAKE_REDSHIFT_SCHEMA": "taglake",
    "TAGLAKE_REDSHIFT_USER": "taglake_pipeline",
    "TAGLAKE_REDSHIFT_SYSTEM_USER": "taglake_system",
    "TAGLAKE_REDSHIFT_CLUSTER_ID": "offline",
    # The *_system outputs require the system identity (docs/privacy.md); compiling contacts no one, so any ARN.
    "TAGLAKE_SYSTEM_IDENTITY": "arn:aws:iam::000000000000:role/offline-system",
}
# A port nothing listens on: any AWS call made during the compile fails it at once.
CLOSED_ENDPOINT = "http://127.0.0.1:9"
_CREDENTIAL_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
# Node kinds whose compiled SQL is checked (seeds have none: their DDL is made at run time).
CHECKED_TYPES = ("model", "test", "snapshot", "analysis")


@dataclass(frozen=True)
class CompiledNode:
    """One node as dbt compiled it for a target."""

    unique_id: str
    resource_type: str
    name: str
    path: str
    materialized: str | None
    relation_name: str | None
    sql: str
    depends_on: tuple[str, ...]
    fqn: tuple[str, ...]
    # never rebuilt (config full_refresh: false): a history the project appends to, not its SQL's result
    history: bool = False


@dataclass(frozen=True)
class CompiledProject:
    """Every enabled node of the project compiled for one target, and the manifest it came from."""

    target: str
    engine: str
    nodes: dict[str, CompiledNode]
    sources: dict[str, str]  # source unique_id → relation name
    manifest_path: Path

    def checked(self) -> list[CompiledNode]:
        """The nodes with SQL to check: models (ephemeral included), tests, snapshots, analyses."""
        return [n for n in self.nodes.values() if n.resource_type in CHECKED_TYPES and n.sql.strip()]


@dataclass(frozen=True)
class ParseFailure:
    """A node whose compiled SQL a checker could not parse."""

    unique_id: str
    checker: str
    message: str

    def __str__(self) -> str:
        return f"{self.unique_id} [{self.checker}]: {self.message}"


def offline_env(project: Project, target: str) -> dict[str, str]:
    """dbt's environment for compiling `target` offline: no AWS credentials, every AWS endpoint a closed local
    port, no instance metadata lookups, and a placeholder for each profile variable that is unset."""
    env = project.dbt_env(target)
    for name in _CREDENTIAL_VARS:
        env.pop(name, None)
    env.update({"AWS_ENDPOINT_URL": CLOSED_ENDPOINT, "AWS_EC2_METADATA_DISABLED": "true"})
    for name, value in PLACEHOLDER_ENV.items():
        env.setdefault(name, value)
    return env


def engine_of(target: str) -> str:
    """The engine of an AWS target (profiles.yml's output type, taglake.core.targets)."""
    aws = targets.aws_targets()
    if target not in aws:
        raise ValueError(f"not an AWS target: {target!r}; expected one of {', '.join(aws)}")
    return aws[target]


# Offline, no connection exists for dbt's is_incremental() to look the relation up; the throwaway copy a compile
# runs in (never the checkout) answers it with a constant instead: false compiles each incremental model's
# full-refresh SQL, true its incremental SQL.
OFFLINE_IS_INCREMENTAL = """{{#- Added by taglake.verify.offline_compile to a throwaway copy of the project: offline,
    is_incremental() cannot look the relation up, so the compile fixes its answer. Never part of the checkout. -#}}
{{% macro is_incremental() %}}
    {{{{- return({answer} and model.config.materialized == 'incremental') -}}}}
{{% endmacro %}}
"""


# A daily run's window offline: landing_window_start() reads the model's own table for its start, which offline
# cannot be read; the throwaway copy's stands in for the project's with a fixed date (the daily Athena cost
# estimate, taglake.bench.athena_scan). Never part of the checkout.
OFFLINE_WINDOW_START = """{{#- Added by taglake.verify.offline_compile to a throwaway copy of the project: offline, the
    window's start cannot be read from the model's table, so the compile fixes it. Never part of the checkout. -#}}
{{% macro landing_window_start(column='landing_date') %}}
    {{{{- return(modules.datetime.date({year}, {month}, {day}) if is_incremental() else none) -}}}}
{{% endmacro %}}
"""


def compile_project(
    project: Project,
    target: str,
    *,
    artifacts_dir: Path,
    incremental: bool = False,
    window_start: date | None = None,
) -> CompiledProject:
    """`dbt compile` of every node for an AWS target, offline, in a throwaway copy of the project under
    `artifacts_dir` (its artifacts under `…/target`). is_incremental() cannot look the relation up offline: the copy
    answers false, so each incremental model compiles to its full-refresh SQL, or true with `incremental`, to its
    incremental SQL (see OFFLINE_IS_INCREMENTAL). With `window_start` (implies `incremental`) the incremental
    models' landing window starts on that date, as a daily run's does (OFFLINE_WINDOW_START)."""
    engine = engine_of(target)
    incremental = incremental or window_start is not None
    folder = artifacts_dir / target / ("daily" if window_start else "incremental" if incremental else "full")
    macros = {"offline_is_incremental.sql": OFFLINE_IS_INCREMENTAL.format(answer="true" if incremental else "false")}
    if window_start is not None:
        macros["offline_window_start.sql"] = OFFLINE_WINDOW_START.format(
            year=window_start.year, month=window_start.month, day=window_start.day
        )
    here = scratch_project(
        project, folder, macros=macros, drop_macros=("landing_window_start",) if window_start else ()
    )
    result = dbt_runner.capture(offline_compile_args(select="fqn:*"), cwd=here.root, env=offline_env(here, target))
    if result.returncode != 0:
        kind = "incremental" if incremental else "full-refresh"
        raise DbtError(f"offline dbt compile ({kind}) failed for target {target}:\n{result.stdout}{result.stderr}")
    return load_compiled(here.target_path / "manifest.json", target, engine)


def incremental_models(compiled: CompiledProject) -> list[CompiledNode]:
    """The incremental models of a compiled project."""
    return [n for n in compiled.nodes.values() if n.resource_type == "model" and n.materialized == "incremental"]


def load_compiled(manifest_path: Path, target: str, engine: str) -> CompiledProject:
    """The enabled nodes of a compiled manifest (read typed: taglake.core.artifacts)."""
    manifest = read_manifest(manifest_path)
    nodes: dict[str, CompiledNode] = {}
    for uid, node in manifest.nodes.items():
        if node.config is not None and node.config.enabled is False:
            continue
        nodes[uid] = CompiledNode(
            unique_id=uid,
            resource_type=node.resource_type,
            name=node.name,
            path=node.original_file_path,
            materialized=node.config.materialized if node.config is not None else None,
            relation_name=node.relation_name,
            # a seed has no compiled code and depends on macros only
            sql=getattr(node, "compiled_code", None) or "",
            depends_on=tuple(getattr(node.depends_on, "nodes", None) or ()),
            fqn=tuple(node.fqn),
            history=node.config is not None and getattr(node.config, "full_refresh", None) is False,
        )
    sources = {uid: s.relation_name or "" for uid, s in manifest.sources.items()}
    return CompiledProject(target=target, engine=engine, nodes=nodes, sources=sources, manifest_path=manifest_path)


def sqlglot_failures(nodes: Iterable[CompiledNode], engine: str) -> list[ParseFailure]:
    """Nodes whose SQL sqlglot cannot parse in the engine's dialect (errors raised, not warned), or parses only as
    an opaque command (sqlglot's fallback for syntax it does not know)."""
    failures = []
    for node in nodes:
        try:
            statements = [
                s for s in sqlglot.parse(node.sql, read=SQLGLOT_DIALECTS[engine], error_level=ErrorLevel.RAISE) if s
            ]
        except sqlglot.errors.SqlglotError as error:
            failures.append(ParseFailure(node.unique_id, "sqlglot", _first_line(str(error))))
            continue
        if not statements:
            failures.append(ParseFailure(node.unique_id, "sqlglot", "no statement"))
        for statement in statements:
            if isinstance(statement, exp.Command):
                failures.append(
                    ParseFailure(node.unique_id, "sqlglot", f"not parsed, only a command: {statement.name}")
                )
    return failures


@functools.cache
def _sqlfluff_linter(engine: str) -> Any:
    """sqlfluff's parser for the engine's dialect: the raw templater (the SQL is already compiled), no style rule,
    the repo's .sqlfluff not read. One per process and engine."""
    from sqlfluff.core import FluffConfig, Linter

    config = FluffConfig(
        configs={"core": {"dialect": SQLFLUFF_DIALECTS[engine], "templater": "raw", "large_file_skip_byte_limit": 0}}
    )
    return Linter(config=config)


def sqlfluff_problems(sql: str, engine: str) -> list[str]:
    """What sqlfluff cannot parse in `sql` in the engine's dialect: parse errors and unparsable segments."""
    parsed = _sqlfluff_linter(engine).parse_string(sql)
    problems = [_first_line(v.desc()) for v in parsed.violations]
    root = parsed.root_variant()
    if root is not None and root.tree is not None and not problems:
        for segment in root.tree.recursive_crawl("unparsable"):
            problems.append(f"unparsable at line {segment.pos_marker.line_no}")
    elif not problems:
        problems.append("no parse tree")
    return problems


def sqlfluff_failures(nodes: Iterable[CompiledNode], engine: str) -> list[ParseFailure]:
    """Nodes whose SQL sqlfluff cannot parse in the engine's dialect (sqlfluff_problems). sqlfluff's parser is
    pure Python and takes about a second a model: each distinct SQL text is parsed once per process (a second
    compile of the same project, the incremental one or the system target's, parses only what changed), on every
    core."""
    nodes = list(nodes)
    seen = _sqlfluff_seen(engine)
    texts = sorted({node.sql for node in nodes} - seen.keys(), key=len, reverse=True)  # longest first: slowest
    workers = min(len(texts), os.cpu_count() or 1)
    if workers <= 1:
        seen.update({sql: sqlfluff_problems(sql, engine) for sql in texts})
    else:
        # spawn, not fork: the caller may hold threads (dbt's, DuckDB's) that a forked child would inherit locked
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            problems = pool.map(sqlfluff_problems, texts, [engine] * len(texts))
            seen.update(zip(texts, problems, strict=True))
    return [ParseFailure(node.unique_id, "sqlfluff", p) for node in nodes for p in seen[node.sql]]


@functools.cache
def _sqlfluff_seen(engine: str) -> dict[str, list[str]]:
    """What sqlfluff_problems found for each SQL text already parsed in this process, per engine: a pure
    function's results, kept so that the same text is not parsed twice (about a second a model)."""
    return {}


def parse_failures(compiled: CompiledProject) -> list[ParseFailure]:
    """Every parse failure of every checked node, sqlglot's and sqlfluff's."""
    nodes = compiled.checked()
    return sqlglot_failures(nodes, compiled.engine) + sqlfluff_failures(nodes, compiled.engine)


def verify_offline(
    project: Project, targets: Iterable[str], *, artifacts_dir: Path
) -> dict[str, tuple[CompiledProject, list[ParseFailure]]]:
    """Compile every node for each target offline and check its SQL parses, an incremental model's incremental SQL
    too (a second compile); target → (compiled full-refresh project, failures)."""
    out = {}
    for target in targets:
        compiled = compile_project(project, target, artifacts_dir=artifacts_dir)
        failures = parse_failures(compiled)
        if incremental_models(compiled):
            again = compile_project(project, target, artifacts_dir=artifacts_dir, incremental=True)
            nodes = incremental_models(again)
            failures += [
                replace(f, unique_id=f"{f.unique_id} (incremental)")
                for f in sqlglot_failures(nodes, again.engine) + sqlfluff_failures(nodes, again.engine)
            ]
        out[target] = (compiled, failures)
    return out


def summary(results: Mapping[str, tuple[CompiledProject, list[ParseFailure]]]) -> str:
    """One line per target, then each failure (node, checker, message; never a value from the lake)."""
    lines = []
    for target, (compiled, failures) in results.items():
        counts: dict[str, int] = {}
        for node in compiled.checked():
            counts[node.resource_type] = counts.get(node.resource_type, 0) + 1
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
        bad = len({f.unique_id for f in failures})
        lines.append(f"{target}: compiled offline ({kinds}); {bad} do not parse in {compiled.engine}")
        lines.extend(f"  {f}" for f in failures)
    return "\n".join(lines)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
