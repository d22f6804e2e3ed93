"""Compile every dbt node for the AWS targets with no AWS account and no network, and check the SQL parses.

`dbt --no-populate-cache compile --no-introspect` renders every model, test, snapshot and analysis without opening
a connection: nothing is introspected, so neither Athena (STS, Glue) nor Redshift is contacted. To prove it rather
than assume it, the compile runs with AWS credentials removed and every AWS endpoint pointed at a closed port on
127.0.0.1: a call, were one made, would fail the compile. Docs: docs/verification.md.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import multiprocessing
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed, wait
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
from taglake.verify.parse_cache import ParseCache
from taglake.verify.progress import Counter, Progress

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
    select: str = "fqn:*",
    dbt_vars: Mapping[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> CompiledProject:
    """`dbt compile` of every node for an AWS target, offline, in a throwaway copy of the project under
    `artifacts_dir` (its artifacts under `…/target`). is_incremental() cannot look the relation up offline: the copy
    answers false, so each incremental model compiles to its full-refresh SQL, or true with `incremental`, to its
    incremental SQL (see OFFLINE_IS_INCREMENTAL). With `window_start` (implies `incremental`) the incremental
    models' landing window starts on that date, as a daily run's does (OFFLINE_WINDOW_START). `select`: the nodes
    compiled (dbt's selector syntax); `dbt_vars`: passed as --vars; `extra_env`: added to dbt's environment (e.g. a
    daily run's window, taglake.ops.run_window.window_env)."""
    engine = engine_of(target)
    incremental = incremental or window_start is not None
    folder = artifacts_dir / target / ("daily" if window_start else "incremental" if incremental else "full")
    if dbt_vars or extra_env:
        folder = folder.with_name(folder.name + "-vars")
    macros = {"offline_is_incremental.sql": OFFLINE_IS_INCREMENTAL.format(answer="true" if incremental else "false")}
    if window_start is not None:
        macros["offline_window_start.sql"] = OFFLINE_WINDOW_START.format(
            year=window_start.year, month=window_start.month, day=window_start.day
        )
    here = scratch_project(
        project, folder, macros=macros, drop_macros=("landing_window_start",) if window_start else ()
    )
    result = dbt_runner.capture(
        offline_compile_args(select=select, dbt_vars=dbt_vars),
        cwd=here.root,
        env={**offline_env(here, target), **(extra_env or {})},
    )
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


def sqlglot_problems(sql: str, engine: str) -> list[str]:
    """What sqlglot cannot parse in `sql` in the engine's dialect: errors raised (not warned), no statement, or a
    statement parsed only as an opaque command (sqlglot's fallback for syntax it does not know)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=SQLGLOT_DIALECTS[engine], error_level=ErrorLevel.RAISE) if s]
    except sqlglot.errors.SqlglotError as error:
        return [_first_line(str(error))]
    if not statements:
        return ["no statement"]
    return [f"not parsed, only a command: {s.name}" for s in statements if isinstance(s, exp.Command)]


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


# checker → (its problems function, its dialect names)
CHECKERS: dict[str, tuple[Callable[[str, str], list[str]], Mapping[str, str]]] = {
    "sqlglot": (sqlglot_problems, SQLGLOT_DIALECTS),
    "sqlfluff": (sqlfluff_problems, SQLFLUFF_DIALECTS),
}


def _check(checker: str, sql: str, engine: str) -> list[str]:
    """One checker's problems with one text (what a pool worker runs)."""
    return CHECKERS[checker][0](sql, engine)


@functools.cache
def checker_fingerprint(checker: str) -> str:
    """What a checker's result depends on besides the text and dialect: the library's version and taglake's
    checking code (the source of the functions above), so that a change to either misses the persistent cache."""
    from importlib.metadata import version

    code = "".join(inspect.getsource(f) for f in (sqlglot_problems, sqlfluff_problems, _first_line))
    code += inspect.getsource(_sqlfluff_linter.__wrapped__)
    return f"{checker} {version(checker)} {hashlib.sha256(code.encode('utf-8')).hexdigest()}"


# What each checker found in each text already checked in this process: (checker, dialect, sql) → problems. A pure
# function's results, kept so that no text is parsed twice in its dialect (the incremental compile, the system
# target's, a second `verify` in the same process).
_SEEN: dict[tuple[str, str, str], list[str]] = {}


Task = tuple[str, str, str]  # (checker, dialect, SQL text)


class ParseChecks:
    """Runs the parse checks of a `verify`: each distinct (checker, dialect, text) once, from this process's memory,
    else from the persistent cache (`cache`, taglake.verify.parse_cache; None: not used), else parsed, longest
    text first, on `workers` processes (default: every core). Counts `hits` (from the cache) and `parsed`."""

    def __init__(self, cache: ParseCache | None = None, workers: int | None = None) -> None:
        self.cache = cache
        self.workers = workers or os.cpu_count() or 1
        self.hits = 0
        self.parsed = 0
        self._from_cache: set[Task] = set()
        self._futures: dict[Task, Future[list[str]]] = {}
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> ParseChecks:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    @staticmethod
    def tasks(nodes: Iterable[CompiledNode], engine: str, checkers: Sequence[str] = tuple(CHECKERS)) -> set[Task]:
        return {(c, CHECKERS[c][1][engine], n.sql) for n in nodes for c in checkers}

    def prefetch(self, tasks_by_engine: Mapping[str, set[Task]]) -> None:
        """Start parsing, on the pool, every task neither in memory nor in the cache, longest text first across all
        engines, so that no core waits between one target's checks and the next's; `failures` collects them."""
        todo = [(t, e) for e, tasks in tasks_by_engine.items() for t in tasks if self._known(t) is None]
        if len(todo) > 1 and self.workers > 1:
            self._submit(todo)

    def failures(
        self,
        nodes: Iterable[CompiledNode],
        engine: str,
        counter: Counter | None = None,
        checkers: Sequence[str] = tuple(CHECKERS),
    ) -> list[ParseFailure]:
        """The failures of `nodes` in the engine's dialect, each checker's in turn (sqlglot's first)."""
        nodes = list(nodes)
        found = self._problems(self.tasks(nodes, engine, checkers), engine, counter)
        return [
            ParseFailure(node.unique_id, checker, problem)
            for checker in checkers
            for node in nodes
            for problem in found[(checker, CHECKERS[checker][1][engine], node.sql)]
        ]

    def _key(self, task: Task) -> str:
        checker, dialect, sql = task
        return ParseCache.key([checker_fingerprint(checker), dialect, sql])

    def _known(self, task: Task) -> list[str] | None:
        """The task's problems from this process's memory, else from the cache, else None."""
        kept = _SEEN.get(task)
        if kept is None and self.cache is not None and task not in self._futures:
            kept = self.cache.get(self._key(task))
            if kept is not None:
                self.hits += 1
                self._from_cache.add(task)
                _SEEN[task] = kept
        return kept

    def _submit(self, todo: list[tuple[Task, str]]) -> None:
        if self._pool is None:
            # spawn, not fork: the caller may hold threads (dbt's, DuckDB's) that a forked child would inherit locked
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        for task, engine in sorted(todo, key=lambda te: len(te[0][2]), reverse=True):  # longest first: the slowest
            if task not in self._futures:
                self._futures[task] = self._pool.submit(_check, task[0], task[2], engine)

    def _done(self, task: Task, problems: list[str]) -> None:
        _SEEN[task] = problems
        self.parsed += 1
        if self.cache is not None:
            self.cache.put(self._key(task), problems)

    def _problems(self, tasks: set[Task], engine: str, counter: Counter | None) -> dict[Task, list[str]]:
        if counter is not None:
            counter.expect(len(tasks), "checks")
        found: dict[Task, list[str]] = {}
        todo = []
        for task in tasks:
            kept = self._known(task)
            if kept is not None:
                found[task] = kept
            elif task not in self._futures:
                todo.append((task, engine))
        if counter is not None:
            counter.advance(len(found))
        if len(todo) > 1 and self.workers > 1:
            self._submit(todo)
        else:
            for task, _ in sorted(todo, key=lambda te: len(te[0][2]), reverse=True):
                found[task] = _check(task[0], task[2], engine)
                self._done(task, found[task])
                if counter is not None:
                    counter.advance()
        waiting = {self._futures[t]: t for t in tasks if t not in found}
        for future in as_completed(waiting):
            task = waiting[future]
            found[task] = future.result()
            if task not in _SEEN:
                self._done(task, found[task])
            if counter is not None:
                counter.advance()
        if counter is not None:
            cached = len(tasks & self._from_cache)
            counter.note = f"{cached} from the cache, {len(tasks) - cached} parsed"
        return found


def sqlglot_failures(nodes: Iterable[CompiledNode], engine: str) -> list[ParseFailure]:
    """Nodes whose SQL sqlglot cannot parse in the engine's dialect (sqlglot_problems); in this process (sqlglot
    takes a few seconds for a whole project, less than starting a pool)."""
    with ParseChecks(workers=1) as checks:
        return checks.failures(nodes, engine, checkers=("sqlglot",))


def sqlfluff_failures(nodes: Iterable[CompiledNode], engine: str) -> list[ParseFailure]:
    """Nodes whose SQL sqlfluff cannot parse in the engine's dialect (sqlfluff_problems). sqlfluff's parser is pure
    Python and takes seconds on a large model: each distinct text is parsed once per process and dialect, on every
    core (ParseChecks)."""
    with ParseChecks() as checks:
        return checks.failures(nodes, engine, checkers=("sqlfluff",))


def parse_failures(compiled: CompiledProject, checks: ParseChecks | None = None) -> list[ParseFailure]:
    """Every parse failure of every checked node, sqlglot's and sqlfluff's."""
    if checks is not None:
        return checks.failures(compiled.checked(), compiled.engine)
    with ParseChecks() as own:
        return own.failures(compiled.checked(), compiled.engine)


INCREMENTAL_SELECTOR = "config.materialized:incremental"


def compile_all(
    project: Project, targets: Sequence[str], *, artifacts_dir: Path, progress: Progress, workers: int | None = None
) -> dict[str, tuple[CompiledProject, CompiledProject | None]]:
    """Each target's full-refresh compile and, when it has incremental models, the incremental compile of those
    models; at most `workers` (default: every core) at a time, each a dbt process of its own. target → (full,
    incremental or None)."""

    def one(target: str, incremental: bool) -> CompiledProject:
        what = f"compile {target}" + (" (incremental models)" if incremental else "")
        with progress.step(what):
            select = INCREMENTAL_SELECTOR if incremental else "fqn:*"
            return compile_project(project, target, artifacts_dir=artifacts_dir, incremental=incremental, select=select)

    full: dict[str, CompiledProject] = {}
    again: dict[str, CompiledProject] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(workers or os.cpu_count() or 1, 2 * len(targets))))
    try:
        pending = {pool.submit(one, t, False): (t, False) for t in targets}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                target, incremental = pending.pop(future)
                compiled = future.result()
                (again if incremental else full)[target] = compiled
                if not incremental and incremental_models(compiled):
                    pending[pool.submit(one, target, True)] = (target, True)
    finally:
        pool.shutdown(cancel_futures=True)
    return {t: (full[t], again.get(t)) for t in targets}


def verify_offline(
    project: Project,
    targets: Iterable[str],
    *,
    artifacts_dir: Path,
    cache: ParseCache | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
) -> dict[str, tuple[CompiledProject, list[ParseFailure]]]:
    """Compile every node for each target offline and check its SQL parses, an incremental model's incremental SQL
    too (a second compile); target → (compiled full-refresh project, failures). The compiles run side by side
    (compile_all); parse results come from `cache` where it has them (ParseChecks). Progress lines go to
    `progress`."""
    progress = progress or Progress()
    once = list(dict.fromkeys(targets))  # a target named twice is compiled once (its folder is its own)
    compiled = compile_all(project, once, artifacts_dir=artifacts_dir, progress=progress, workers=workers)
    out = {}
    with ParseChecks(cache, workers) as checks:
        nodes = {t: full.checked() + _incremental_again(again) for t, (full, again) in compiled.items()}
        tasks: dict[str, set[Task]] = {}
        for target, (full, _) in compiled.items():
            tasks.setdefault(full.engine, set()).update(checks.tasks(nodes[target], full.engine))
        checks.prefetch(tasks)
        for target, (full, _) in compiled.items():
            increments = len(nodes[target]) - len(full.checked())
            detail = f"{len(full.checked())} nodes" + (f", {increments} incremental models again" if increments else "")
            with progress.step(f"parse {target}", detail) as counter:
                out[target] = (full, checks.failures(nodes[target], full.engine, counter))
    return out


def _incremental_again(again: CompiledProject | None) -> list[CompiledNode]:
    """The incremental models of the incremental compile, named `… (incremental)` in failures."""
    if again is None:
        return []
    return [replace(n, unique_id=f"{n.unique_id} (incremental)") for n in incremental_models(again)]


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
