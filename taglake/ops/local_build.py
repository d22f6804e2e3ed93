"""Read the local (DuckDB) build: what the demo prints (analyses run through taglake.ops.query, the one runner)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from taglake.core.artifacts import RunResults, run_results_if_written
from taglake.core.project import Project
from taglake.privacy.dbt_runner import run_dbt

MARTS_SCHEMA = "taglake_marts"


def connect(project: Project) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the local build."""
    if not project.duckdb_path.is_file():
        raise FileNotFoundError(f"no local build at {project.duckdb_path}: run `taglake build` first")
    return duckdb.connect(str(project.duckdb_path), read_only=True)


def intake_summary(project: Project) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Rows landed, accepted and quarantined per raw source table, over all landing days."""
    sql = f"""
        select
            source_table,
            count(*) as partitions,
            sum(raw_rows) as raw_rows,
            sum(accepted_rows) as accepted_rows,
            sum(quarantined_rows) as quarantined_rows
        from {MARTS_SCHEMA}.fct_raw_intake_daily
        group by source_table
        order by source_table
    """
    with connect(project) as con:
        rel = con.sql(sql)
        return list(rel.columns), rel.fetchall()


def mart_row_counts(project: Project) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Every table the build wrote outside the raw zone, with its row count."""
    with connect(project) as con:
        tables = con.sql(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema like 'taglake%' and table_type = 'BASE TABLE' order by 1, 2"
        ).fetchall()
        rows = [
            (schema, name, con.sql(f'select count(*) from "{schema}"."{name}"').fetchone()[0])
            for schema, name in tables
        ]
    return ["schema", "table", "rows"], rows


def schema_summary(project: Project) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Per schema the build wrote: how many tables and views, and the rows in its tables."""
    _, tables = mart_row_counts(project)
    per_schema: dict[str, list[int]] = {}
    for schema, _name, rows in tables:
        entry = per_schema.setdefault(schema, [0, 0])
        entry[0] += 1
        entry[1] += rows
    with connect(project) as con:
        views = dict(
            con.sql(
                "select table_schema, count(*) from information_schema.tables "
                "where table_schema like 'taglake%' and table_type = 'VIEW' group by 1"
            ).fetchall()
        )
    schemas = sorted(set(per_schema) | set(views))
    return ["schema", "tables", "views", "rows"], [
        (s, per_schema.get(s, [0, 0])[0], views.get(s, 0), per_schema.get(s, [0, 0])[1]) for s in schemas
    ]


# ---- running the build for a person (the demo, run-daily) -------------------------------------------------------

PACKAGE_FILES = ("packages.yml", "dependencies.yml")

# dbt's statuses as its own summary line counts them (`Done. PASS=… WARN=… ERROR=… SKIP=…`).
STATUS_GROUPS = {
    "success": "PASS",
    "pass": "PASS",
    "warn": "WARN",
    "error": "ERROR",
    "fail": "ERROR",
    "runtime error": "ERROR",
    "skipped": "SKIP",
    "no-op": "NO-OP",
}


def declares_packages(root: Path) -> bool:
    """True when packages.yml (or dependencies.yml) lists a package: only then has `dbt deps` anything to do.
    (With `packages: []` dbt deps only warns "No packages were found in packages.yml".)"""
    for name in PACKAGE_FILES:
        path = root / name
        if path.is_file():
            content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(content, dict) and content.get("packages"):
                return True
    return False


def deps(project: Project, *, target: str | None = None, quiet: bool = False) -> bool:
    """`dbt deps` when the project declares a package; False when there was nothing to install (skipped)."""
    if not declares_packages(project.root):
        return False
    run_dbt(project, ["deps"], target=target, quiet=quiet)
    return True


def build(project: Project, *, target: str | None = None, extra: Sequence[str] = ()) -> None:
    """`taglake build`: dbt deps (only when a package is declared) + dbt build, with dbt's full output."""
    deps(project, target=target)
    run_dbt(project, ["build", *extra], target=target)


def status_counts(run_results: RunResults | None) -> dict[str, int]:
    """PASS / WARN / ERROR / SKIP (and NO-OP when any) from dbt's run_results.json (None when dbt wrote none)."""
    results = run_results.results if run_results else []
    counts = Counter(STATUS_GROUPS.get(r.status.value.lower(), "ERROR") for r in results)
    shown = {group: counts.get(group, 0) for group in ("PASS", "WARN", "ERROR", "SKIP")}
    if counts.get("NO-OP"):
        shown["NO-OP"] = counts["NO-OP"]
    return shown


def failing_lines(output: str) -> str:
    """From dbt's (already redacted) console output, what tells a person why the build failed: the lines of the
    nodes that errored, failed or warned and dbt's closing summary (from `Completed with …` on); never the run's
    hundreds of OK/PASS lines."""
    lines = output.splitlines(keepends=True)
    closing = next((i for i, line in enumerate(lines) if "Completed with" in line), None)
    if closing is not None:
        return "".join(lines[closing:])
    marked = [line for line in lines if any(word in line for word in (" ERROR", " FAIL", " WARN", "Error", "error:"))]
    return "".join(marked or lines[-20:])


@dataclass(frozen=True)
class BuildOutcome:
    ok: bool
    seconds: float
    counts: dict[str, int]
    nodes: int

    def line(self, log: Path) -> str:
        """`dbt build: 273 nodes in 48 s: PASS 270, WARN 0, ERROR 0, SKIP 0 (dbt's log: logs/dbt.log)`"""
        counts = ", ".join(f"{group} {n}" for group, n in self.counts.items())
        return f"dbt build: {self.nodes} nodes in {self.seconds:.0f} s: {counts} (dbt's log: {log})"


def build_quietly(project: Project, *, target: str | None = None) -> BuildOutcome:
    """dbt deps (when needed) + dbt build with dbt's output kept in logs/dbt.log (redacted line by line); on
    failure only the failing nodes' lines are printed (failing_lines). Counts from target/run_results.json."""
    start = time.monotonic()
    run_results = project.target_path / "run_results.json"
    run_results.unlink(missing_ok=True)
    deps(project, target=target, quiet=True)
    code = run_dbt(project, ["build"], target=target, check=False, quiet=True, on_failure=failing_lines)
    results = run_results_if_written(run_results)
    counts = status_counts(results)
    return BuildOutcome(code == 0, time.monotonic() - start, counts, len(results.results) if results else 0)
