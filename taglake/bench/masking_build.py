"""The masking benchmark's build comparison: the full `dbt build` with masking, against the same build with the
identity treatment, which leaves tokenize's hashing out and so writes clear personal data. The identity build is
a throwaway copy of the project (taglake.core.scratch) with `keyed_hash` replaced by the identity and the privacy
guard replaced by its screen alone (the same query per model, so that both builds pay for it, without the refusal
that would stop a build holding clear values): the checkout has no switch for either. Every identity build
(project copy, database, target/, logs/) lives in a throwaway folder that is deleted as soon as its figures are
read, whether the build succeeded or not.
"""

from __future__ import annotations

import re
import shutil
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from taglake.bench.dbt_log import logged_statements
from taglake.bench.process_measure import run_measured
from taglake.core.artifacts import read_run_results
from taglake.core.project import Project, colour_env
from taglake.core.scratch import scratch_project
from taglake.privacy.dbt_runner import DbtError, dbt_command, prepare_local

MODES = ("masking", "identity")
# The identity treatment, added to the throwaway copy only: the same plan as tokenize's, with the hashing left out.
IDENTITY_MACRO = """{#- Added by taglake.bench.masking_build to a throwaway copy of the project: the identity
    treatment. -#}
{% macro duckdb__keyed_hash(value, keys) -%}
    {{ value }}
{%- endmacro %}
"""
# The identity build holds clear values by design, so the copy's guard screens each model as the project's does
# (privacy_guard_screen: its one query per model, which a clean build's guard runs too) and refuses nothing: the
# project's privacy_guard is dropped from the copy and this stands in for it. Without the screen the identity build
# would also leave out the guard's cost, and the ratio would count it as masking's.
GUARD_STANDIN = """{#- Added by taglake.bench.masking_build to a throwaway copy of the project: the privacy guard's
    screen, without the refusal. -#}
{% macro privacy_guard() %}
    {%- if execute and model.fqn[1] != 'vault' -%}
        {%- do privacy_guard_screen() -%}
    {%- endif -%}
    {{- return('') -}}
{% endmacro %}
"""
IDENTITY_MACROS = {"benchmark_identity.sql": IDENTITY_MACRO, "benchmark_guard.sql": GUARD_STANDIN}
IDENTITY_DROPPED_MACROS = ("privacy_guard",)


def build_order(runs: int, first_run: int = 1) -> list[tuple[int, str]]:
    """(run, mode) pairs, the order alternating across runs so that neither mode always goes first: odd runs
    build with masking first, even runs with identity first."""
    order = []
    for run in range(first_run, first_run + runs):
        modes = MODES if run % 2 else tuple(reversed(MODES))
        order.extend((run, mode) for mode in modes)
    return order


def build_project(project: Project, lake_dir: Path, folder: Path) -> Project:
    """`project` reading `lake_dir`, with its database, target/ and logs/ all inside `folder`."""
    return replace(
        project,
        lake_dir=lake_dir.resolve(),
        duckdb_path=(folder / "taglake.duckdb").resolve(),
        target_path=(folder / "target").resolve(),
        log_path=(folder / "logs").resolve(),
    )


def _node_timings(target_path: Path) -> list[dict]:
    """Each node's status and execution time from run_results.json."""
    results = read_run_results(target_path / "run_results.json")
    nodes = []
    for result in results.results:
        uid = result.unique_id
        nodes.append(
            {
                "unique_id": uid,
                "resource_type": uid.split(".")[0],
                "name": uid.split(".")[-1] if not uid.startswith("test.") else uid.split(".")[2],
                "status": result.status.value,
                "seconds": result.execution_time,
            }
        )
    return nodes


# A model's own select: `create table … as` in a full build, `create temporary table … as` where an incremental
# model builds the rows it then deletes and inserts or merges (those statements are `other`).
_CREATE = re.compile(r"\bcreate\s+(?:temp(?:orary)?\s+)?table\b", re.IGNORECASE)
# A snapshot's own select: its table's first build only; its merge, which keeps the versions it closes in a
# temporary table (macros/history/snapshot_staging.sql), is `other`.
_SNAPSHOT_CREATE = re.compile(r"\bcreate\s+table\b", re.IGNORECASE)


def statement_seconds(log_file: Path) -> dict[str, dict[str, float]]:
    """Per model (and snapshot), the seconds its SQL statements took by kind, from dbt's debug log: `create` (the
    model's own select into a table or, in an incremental run, a temporary table: where masking's hashing runs; a
    snapshot's first build), `guard` (the privacy guard's content sample, masked builds only) and `other` (an
    incremental model's delete and insert or merge, a snapshot's staging and merge, introspection, renames,
    comments)."""
    out: dict[str, dict[str, float]] = {}
    for statement in logged_statements(log_file):
        if statement.resource_type not in ("model", "snapshot"):
            continue
        text = statement.sql
        creates = _SNAPSHOT_CREATE if statement.resource_type == "snapshot" else _CREATE
        kind = "guard" if " as sampled" in text else "create" if creates.search(text) else "other"
        times = out.setdefault(statement.node_name, {"create": 0.0, "guard": 0.0, "other": 0.0})
        times[kind] += statement.seconds
    return out


def _layer(unique_id: str) -> str:
    """staging / intermediate / marts for a model; the resource type otherwise."""
    kind, _, name = unique_id.split(".", 2)
    if kind != "model":
        return kind
    for prefix, layer in (("stg_", "staging"), ("int_", "intermediate"), ("vault_", "vault")):
        if name.startswith(prefix):
            return layer
    return "marts"


@dataclass(frozen=True)
class DbtMeasure:
    """One measured dbt process: wall and CPU seconds, peak RSS, and each node's timing (run_results.json)."""

    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    nodes: list[dict]


def measure_dbt(
    project: Project, args: list[str], log_file: Path, extra_env: Mapping[str, str] | None = None
) -> DbtMeasure:
    """`dbt ARGS` on the local target (in the project's dbt environment plus `extra_env`) with its output in
    `log_file`, measured. Raises DbtError with the log's tail when dbt fails."""
    cmd = dbt_command(*args)
    env = {**project.dbt_env("local"), **colour_env(on_terminal=False), **(extra_env or {})}  # output to a file
    code, wall, peak, cpu = run_measured(cmd, cwd=project.root, env=env, log_file=log_file)
    if code != 0:
        tail = log_file.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise DbtError(f"benchmark `dbt {' '.join(args)}` failed with exit code {code}:\n{tail}")
    return DbtMeasure(wall, cpu, peak, _node_timings(project.target_path))


def run_build(project: Project, lake_dir: Path, folder: Path, mode: str) -> dict:
    """One `dbt build` in `mode` into `folder`; its wall time, peak RSS, database size and node timings."""
    if mode not in MODES:
        raise ValueError(f"unknown build mode {mode!r}: one of {', '.join(MODES)}")
    folder.mkdir(parents=True, exist_ok=False)
    bp = build_project(project, lake_dir, folder)
    if mode == "identity":
        bp = scratch_project(bp, folder, macros=IDENTITY_MACROS, drop_macros=IDENTITY_DROPPED_MACROS)
    prepare_local(bp, "local")
    measured = measure_dbt(bp, ["build"], folder / "dbt_build.log")
    wall, peak, nodes = measured.wall_seconds, measured.peak_rss_bytes, measured.nodes
    log_file = bp.log_path / "dbt.log"
    statements = statement_seconds(log_file) if log_file.is_file() else {}
    by_layer: dict[str, float] = {}
    for node in nodes:
        layer = _layer(node["unique_id"])
        by_layer[layer] = by_layer.get(layer, 0.0) + node["seconds"]
    return {
        "mode": mode,
        "wall_seconds": wall,
        "peak_rss_bytes": peak,
        "database_bytes": sum(p.stat().st_size for p in folder.glob(bp.duckdb_path.name + "*") if p.is_file()),
        "seconds_by_layer": by_layer,
        "models": {n["name"]: n["seconds"] for n in nodes if n["resource_type"] == "model"},
        "model_statements": statements,
        "nodes": len(nodes),
    }


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize_builds(builds: list[dict]) -> dict:
    """Medians per mode, the masking/identity ratios, and per-model medians (staging first)."""
    summary: dict = {}
    for mode in MODES:
        mine = [b for b in builds if b["mode"] == mode]
        layers = sorted({layer for b in mine for layer in b["seconds_by_layer"]})
        summary[mode] = {
            "runs": len(mine),
            "wall_seconds_median": _median([b["wall_seconds"] for b in mine]),
            "wall_seconds": [round(b["wall_seconds"], 3) for b in mine],
            "peak_rss_bytes_median": _median([b["peak_rss_bytes"] for b in mine]),
            "database_bytes_median": _median([b["database_bytes"] for b in mine]),
            "seconds_by_layer_median": {
                layer: _median([b["seconds_by_layer"].get(layer, 0.0) for b in mine]) for layer in layers
            },
        }
    mask, ident = summary["masking"], summary["identity"]

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    summary["ratio_wall"] = ratio(mask["wall_seconds_median"], ident["wall_seconds_median"])
    summary["ratio_peak_rss"] = ratio(mask["peak_rss_bytes_median"], ident["peak_rss_bytes_median"])
    # The pair of builds of one run ran back to back, so their ratio is less exposed to slow drifts in load.
    walls = {(b["run"], b["mode"]): b["wall_seconds"] for b in builds if "run" in b}
    per_run = {
        run: walls[(run, "masking")] / walls[(run, "identity")]
        for run in sorted({r for r, _ in walls})
        if (run, "masking") in walls and (run, "identity") in walls
    }
    summary["ratio_wall_per_run"] = per_run
    summary["ratio_wall_per_run_median"] = _median(list(per_run.values()))
    models = sorted({m for b in builds for m in b["models"]}, key=lambda m: (_layer(f"model.x.{m}") != "staging", m))
    per_model = []
    for name in models:
        row = {"model": name, "layer": _layer(f"model.x.{name}")}
        for mode in MODES:
            row[f"{mode}_seconds_median"] = _median(
                [b["models"][name] for b in builds if b["mode"] == mode and name in b["models"]]
            )
        row["delta_seconds"] = (
            row["masking_seconds_median"] - row["identity_seconds_median"]
            if row["masking_seconds_median"] is not None and row["identity_seconds_median"] is not None
            else None
        )
        row["ratio"] = ratio(row["masking_seconds_median"], row["identity_seconds_median"])
        for mode in MODES:
            for kind in ("create", "guard"):
                row[f"{mode}_{kind}_seconds_median"] = _median(
                    [
                        b["model_statements"][name][kind]
                        for b in builds
                        if b["mode"] == mode and name in b.get("model_statements", {})
                    ]
                )
        per_model.append(row)
    summary["models"] = per_model
    return summary


def build_comparison(project: Project, lake_dir: Path, *, runs: int = 1, work_dir: Path, first_run: int = 1) -> dict:
    """Full `dbt build` wall time and peak RSS with masking vs identity, each into a fresh DuckDB file under
    `work_dir`, the order alternating across runs; medians, the ratio masking/identity, and per-model timings.
    Every identity build (clear personal data) is deleted with its target/ and logs/ as soon as it is measured,
    even on failure; of the masked builds only the last is kept (`kept_masked_database`). `first_run` numbers
    the runs, so that a series continued in a later session keeps alternating (see merge_build_comparisons)."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    lake_dir = Path(lake_dir).resolve()
    if not (lake_dir / "manifest.json").is_file():
        raise FileNotFoundError(f"no generated lake at {lake_dir} (manifest.json missing)")
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    builds: list[dict] = []
    kept: Path | None = None
    started = time.time()
    for run, mode in build_order(runs, first_run):
        folder = work_dir / f"{mode}-run{run}"
        if folder.exists():
            shutil.rmtree(folder)
        try:
            result = run_build(project, lake_dir, folder, mode)
        finally:
            if mode == "identity":
                shutil.rmtree(folder, ignore_errors=True)
                if folder.exists():
                    raise RuntimeError(f"could not delete the identity build at {folder}: delete it by hand")
        result["run"] = run
        builds.append(result)
        if mode == "masking":
            if kept is not None:
                shutil.rmtree(kept, ignore_errors=True)
            kept = folder
    return {
        "lake_dir": str(lake_dir),
        "runs": runs,
        "order": [f"{mode}#{run}" for run, mode in build_order(runs, first_run)],
        "builds": builds,
        "summary": summarize_builds(builds),
        "kept_masked_database": str(kept / "taglake.duckdb") if kept else None,
        "elapsed_seconds": time.time() - started,
    }


def merge_build_comparisons(parts: list[dict]) -> dict:
    """Several build_comparison results over the same lake (e.g. a series continued with `first_run`) as one."""
    lakes = {p["lake_dir"] for p in parts}
    if len(lakes) != 1:
        raise ValueError(f"build comparisons of different lakes cannot be merged: {sorted(lakes)}")
    builds = [b for p in parts for b in p["builds"]]
    return {
        "lake_dir": lakes.pop(),
        "runs": len({b["run"] for b in builds}),
        "order": [o for p in parts for o in p["order"]],
        "builds": builds,
        "summary": summarize_builds(builds),
        "kept_masked_database": parts[-1]["kept_masked_database"],
        "elapsed_seconds": sum(p["elapsed_seconds"] for p in parts),
    }
