"""The build benchmark (`taglake bench build`, issue 16): side by side, in one run over one lake, the full
`dbt build`, a one-day incremental run (as `taglake run-daily` builds it: each incremental model tested and guarded
on its landing window), the time DuckDB takes to read every column of every raw file once
(the floor any build of these tables pays), and the same tables written by a plain DuckDB script of the full build's
own statements (taglake.bench.plain_script: no dbt, no tests, no guard; what dbt and the checks add).

Each run works on its own copy of the lake (hard links; the appended day and the manifest are new files, so the
lake given is left as it is) and its own database. Reported per run and as medians: wall and CPU seconds, peak
memory, the ratios full/read, full/plain script and incremental/full, and where node time went in the full build —
creates (each model's own `create table … as`), tests, the privacy guard's sample query, other statements
(introspection, renames, commits with DuckDB's checkpoints), dbt's own overhead (the rest of the wall time) — with
the slowest models. docs/benchmarks.md has the figures and how to reproduce them.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

import duckdb

from taglake.bench.day_kinds import ORDINARY, day_kind
from taglake.bench.dbt_log import seconds_from_first_node, statements_at_once
from taglake.bench.masking import _num, _table, lake_description, machine_description
from taglake.bench.masking_build import DbtMeasure, build_project, measure_dbt, statement_seconds
from taglake.bench.plain_script import measure_plain_script
from taglake.core import targets
from taglake.core.artifacts import read_manifest
from taglake.core.project import Project
from taglake.core.sources import project_var, source_tables
from taglake.lake.generate import append_days, params_from_manifest
from taglake.ops.run_ledger import plan_daily, record_ledger
from taglake.ops.run_window import newest_landings, window_env
from taglake.privacy.dbt_runner import DbtError, prepare_local

# The goals of issue 16, judged on the medians.
GOAL_FULL_OVER_READ = 27.0
GOAL_FULL_OVER_PLAIN = 1.5  # the same goal as the issue words it: "within 1.5× of a plain DuckDB script"
GOAL_INCREMENTAL_SHARE = 0.10


def copy_lake(lake_dir: Path, dest: Path) -> Path:
    """`lake_dir` as hard links under `dest` (raw files are only ever added, never rewritten), with its own copy
    of manifest.json, which appending a day rewrites."""
    shutil.copytree(lake_dir, dest, copy_function=os.link)
    manifest = dest / "manifest.json"
    manifest.unlink()
    shutil.copyfile(lake_dir / "manifest.json", manifest)
    return dest


def raw_read_locations(manifest_json: Path) -> dict[str, str]:
    """Each raw lake table's reader as the build renders it: the source's `external_location` (its source YAML,
    one place) with dbt-duckdb's `template` substitution, from a parsed project's manifest."""
    manifest = read_manifest(manifest_json)
    lake_tables = {name for name, table in source_tables().items() if not table.restricted}
    out: dict[str, str] = {}
    for node in manifest.sources.values():
        name = f"{node.source_name}.{node.name}"
        meta = {**(node.source_meta or {}), **(node.meta or {})}
        if name not in lake_tables or "external_location" not in meta:
            continue
        values = {"name": node.name, "identifier": node.identifier, "schema": node.schema_, **meta}
        out[name] = Template(meta["external_location"]).substitute(values)
    return dict(sorted(out.items()))


def read_everything(locations: dict[str, str], threads: int | None = None) -> dict:
    """Read every column of every raw file once (each value hashed, so no column is pruned), each table through
    the build's own reader, in one in-memory DuckDB; seconds and rows per table and in total."""
    con = duckdb.connect(":memory:")
    try:
        if threads:
            con.execute(f"set threads = {int(threads)}")
        tables: dict[str, dict[str, float]] = {}
        started = time.perf_counter()
        for name, location in locations.items():
            t0 = time.perf_counter()
            [row] = con.execute(f"select count(*), max(hash(columns(*))) from {location}").fetchall()
            tables[name] = {"rows": row[0], "seconds": time.perf_counter() - t0}
        return {"seconds": time.perf_counter() - started, "tables": tables}
    finally:
        con.close()


def node_breakdown(measure: DbtMeasure, log_file: Path | None) -> dict:
    """Where the build's node time went (seconds summed over dbt's threads, from run_results.json and dbt's debug
    log): models' creates, guard sample queries and other statements, tests (whole nodes), and dbt's own overhead
    inside nodes (compiling, materialization logic: node time not spent in a statement); with the slowest models,
    the wall time before the first node started (start-up and parse), and from the first node on, the seconds
    during which 0, 1, 2 … statements ran at once (statements_at_once: whether dbt's threads kept the engine busy)."""
    statements = statement_seconds(log_file) if log_file and log_file.is_file() else {}
    creates = sum(s["create"] for s in statements.values())
    guard = sum(s["guard"] for s in statements.values())
    other = sum(s["other"] for s in statements.values())
    tests = sum(n["seconds"] for n in measure.nodes if n["resource_type"] == "test")
    node_seconds = sum(n["seconds"] for n in measure.nodes)
    models = sorted(statements.items(), key=lambda item: sum(item[1].values()), reverse=True)
    slow_tests = sorted((n for n in measure.nodes if n["resource_type"] == "test"), key=lambda n: -n["seconds"])
    from_first_node = seconds_from_first_node(log_file) if log_file and log_file.is_file() else None
    at_once = statements_at_once(log_file) if log_file and log_file.is_file() else None
    return {
        "node_seconds": node_seconds,
        # the wall time before the first node: Python's start-up, dbt's parse of the project and its set-up
        "before_first_node_seconds": (
            max(measure.wall_seconds - from_first_node, 0.0) if from_first_node is not None else None
        ),
        "parts": {
            "creates": creates,
            "tests": tests,
            "guard": guard,
            "other statements": other,
            "dbt overhead": max(node_seconds - creates - guard - other - tests, 0.0),
        },
        "top_models": [
            {"model": name, "create_seconds": s["create"], "guard_seconds": s["guard"], "other_seconds": s["other"]}
            for name, s in models[:8]
        ],
        "top_tests": [{"test": n["name"], "seconds": n["seconds"]} for n in slow_tests[:5]],
        # from the first node on: statements running at once (as JSON keys: "0", "1", "2" …) → seconds
        "statements_at_once": {str(count): seconds for count, seconds in at_once.items()} if at_once else None,
    }


def _measured(
    project: Project, folder: Path, name: str, extra_env: Mapping[str, str] | None = None
) -> tuple[DbtMeasure, dict]:
    """`dbt build` measured; its debug log is moved aside so that the next build's statements are its own."""
    measure = measure_dbt(project, ["build"], folder / f"{name}.out", extra_env)
    log = project.log_path / "dbt.log"
    kept = folder / f"{name}.dbt.log"
    if log.is_file():
        log.replace(kept)
    return measure, node_breakdown(measure, kept)


def _figures(measure: DbtMeasure) -> dict:
    return {
        "wall_seconds": measure.wall_seconds,
        "cpu_seconds": measure.cpu_seconds,
        "peak_rss_bytes": measure.peak_rss_bytes,
        "nodes": len(measure.nodes),
    }


def bench_run(
    project: Project,
    lake_dir: Path,
    folder: Path,
    *,
    copy: bool = True,
    athena_scales: list[str] | None = None,
    days: int = 1,
    plain: bool = True,
) -> dict:
    """One run: full build, read everything, append a day, incremental build; with `days` > 1 the later days are
    appended and built one after another on the same database (`daily_runs`: each day's date, kind, figures, node
    breakdown and share of the full build; the first is the one-day run). With `copy` the run works on a
    hard-linked copy of the lake under `folder`; without, the lake itself gains the days (`taglake bench daily`).
    With `athena_scales`, the one-day run's Athena scan and cost at those scales, from the full build
    (taglake.bench.athena_scan; not timed). With `plain` (the default), the full build's own statements are also
    run as a plain DuckDB script after it (taglake.bench.plain_script); `taglake bench daily` leaves it out."""
    folder.mkdir(parents=True, exist_ok=False)
    lake = copy_lake(lake_dir, folder / "lake") if copy else lake_dir
    bp = build_project(project, lake, folder)
    prepare_local(bp, "local")
    full, full_nodes = _measured(bp, folder, "full_build")
    script = (
        measure_plain_script(
            folder / "full_build.dbt.log",
            bp.duckdb_path,
            folder / "plain",
            targets.duckdb_settings(targets.DEFAULT_TARGET, project.root),
            env=bp.dbt_env(targets.DEFAULT_TARGET),
        )
        if plain
        else None
    )
    # as `taglake run-daily` after a first build: the raw files it read become the ledger the days compare with
    record_ledger(bp, "local", plan_daily(bp, "local", {}))
    read = read_everything(raw_read_locations(bp.target_path / "manifest.json"))
    athena = None
    if athena_scales:
        from taglake.bench.athena_scan import run_athena_estimate

        athena = run_athena_estimate(
            project, lake_dir=lake, db_path=bp.duckdb_path, work_dir=folder / "athena", scales=athena_scales
        )
    lookback = int(project_var("late_arrival_lookback_days", project.root))
    daily_runs: list[dict] = []
    for index in range(days):
        started = time.perf_counter()
        appended = append_days(lake, count=1, progress=False)
        append_seconds = time.perf_counter() - started
        params = params_from_manifest(appended)
        # as `taglake run-daily` builds the day: tests and guard on each incremental model's landing window, the
        # windows narrowed to the raw partitions changed since the day before (the ledger, recorded after it)
        landings = newest_landings(bp, "local")
        listed = time.perf_counter()
        ledger = plan_daily(bp, "local", landings)
        ledger_seconds = time.perf_counter() - listed
        window = window_env(landings, ledger.changes)
        measure, nodes = _measured(bp, folder, "incremental_build" if index == 0 else f"day{index + 1}", window)
        record_ledger(bp, "local", ledger)  # measure_dbt raised if the build failed
        daily_runs.append(
            {
                "date": appended["params"].get("last_date"),
                "kind": day_kind(params, params.total_days - 1, lookback, ledger=True),
                "append_day_seconds": append_seconds,
                "ledger_seconds": ledger_seconds,
                **_figures(measure),
                "share_of_full": measure.wall_seconds / full.wall_seconds,
                "breakdown": nodes,
            }
        )
    first = daily_runs[0]
    return {
        "full_build": {**_figures(full), "breakdown": full_nodes},
        "read_everything": read,
        **({"plain_script": script} if script is not None else {}),
        "appended_day": first["date"],
        "append_day_seconds": first["append_day_seconds"],
        "incremental_build": {key: first[key] for key in ("wall_seconds", "cpu_seconds", "peak_rss_bytes", "nodes")}
        | {"breakdown": first["breakdown"]},
        "full_over_read": full.wall_seconds / read["seconds"] if read["seconds"] else None,
        "full_over_plain": full.wall_seconds / script["wall_seconds"] if script and script["wall_seconds"] else None,
        "incremental_share_of_full": first["share_of_full"],
        "daily_runs": daily_runs,
        **({"athena": athena} if athena is not None else {}),
    }


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _breakdown_medians(runs: list[dict], build: str) -> dict[str, float | None]:
    parts = runs[0][build]["breakdown"]["parts"]
    return {part: _median([run[build]["breakdown"]["parts"][part] for run in runs]) for part in parts}


def summarize(runs: list[dict]) -> dict:
    """Medians over the runs, and the goals judged on them."""

    def med(*path: str) -> float | None:
        values = []
        for run in runs:
            value: Any = run
            for key in path:
                value = value[key]
            values.append(value)
        return _median(values)

    summary = {
        "runs": len(runs),
        "full_wall_seconds": med("full_build", "wall_seconds"),
        "full_cpu_seconds": med("full_build", "cpu_seconds"),
        "full_peak_rss_bytes": med("full_build", "peak_rss_bytes"),
        "incremental_wall_seconds": med("incremental_build", "wall_seconds"),
        "incremental_cpu_seconds": med("incremental_build", "cpu_seconds"),
        "incremental_peak_rss_bytes": med("incremental_build", "peak_rss_bytes"),
        "read_everything_seconds": med("read_everything", "seconds"),
        "plain_wall_seconds": _median([run.get("plain_script", {}).get("wall_seconds") for run in runs]),
        "plain_cpu_seconds": _median([run.get("plain_script", {}).get("cpu_seconds") for run in runs]),
        "plain_peak_rss_bytes": _median([run.get("plain_script", {}).get("peak_rss_bytes") for run in runs]),
        "full_over_read": med("full_over_read"),
        "full_over_plain": _median([run.get("full_over_plain") for run in runs]),
        "incremental_share_of_full": med("incremental_share_of_full"),
        "full_node_seconds": med("full_build", "breakdown", "node_seconds"),
        "full_before_first_node_seconds": _median(
            [run["full_build"]["breakdown"].get("before_first_node_seconds") for run in runs]
        ),
        "full_breakdown": _breakdown_medians(runs, "full_build"),
        "incremental_node_seconds": med("incremental_build", "breakdown", "node_seconds"),
        "incremental_breakdown": _breakdown_medians(runs, "incremental_build"),
    }
    summary["daily_runs"] = _daily_medians(runs)
    ordinary = [day["share_of_full"] for run in runs for day in run.get("daily_runs", []) if day["kind"] == ORDINARY]
    summary["ordinary_day_share_of_full"] = _median(ordinary)
    ratio, share = summary["full_over_read"], summary["incremental_share_of_full"]
    over_plain = summary["full_over_plain"]
    summary["goals"] = {
        "full_over_read_within_goal": ratio <= GOAL_FULL_OVER_READ if ratio is not None else None,
        "full_over_plain_within_goal": over_plain <= GOAL_FULL_OVER_PLAIN if over_plain is not None else None,
        "incremental_share_within_goal": share <= GOAL_INCREMENTAL_SHARE if share is not None else None,
    }
    return summary


def _daily_medians(runs: list[dict]) -> list[dict]:
    """Per appended day (every run appends the same days), its date and kind and the medians of its figures."""
    by_day: dict[int, list[dict]] = {}
    for run in runs:
        for index, day in enumerate(run.get("daily_runs", [])):
            by_day.setdefault(index, []).append(day)
    return [
        {
            "date": days[0]["date"],
            "kind": days[0]["kind"],
            **{key: _median([d[key] for d in days]) for key in ("wall_seconds", "cpu_seconds", "share_of_full")},
        }
        for _, days in sorted(by_day.items())
    ]


def run_build_benchmark(
    project: Project,
    *,
    lake_dir: Path,
    runs: int,
    work_dir: Path,
    out_json: Path,
    athena_scales: list[str] | None = None,
    days: int = 1,
    keep: bool = False,
    plain: bool = True,
) -> dict:
    """`runs` runs over `lake_dir` (left as it is), each under `work_dir` (deleted after it is measured, kept
    when dbt fails; with `keep`, the last run's folder stays: its database, lake copy and each build's dbt log and
    output, for profiling); the result is written to `out_json` after each run. With `athena_scales`, each run also
    estimates the one-day run's Athena cost at those scales (taglake.bench.athena_scan). Each run appends and
    builds `days` days one after another (bench_run). Without `plain`, the plain script is left out (at the large
    scale it takes about as long as the build, and its ratio is a goal at the medium scale only)."""
    if runs < 1:
        raise ValueError("--runs: at least 1")
    if days < 1:
        raise ValueError("--days: at least 1")
    lake_dir = Path(lake_dir).resolve()
    if not (lake_dir / "manifest.json").is_file():
        raise FileNotFoundError(f"--lake {lake_dir}: no generated lake there (manifest.json missing)")
    out_json.parent.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "benchmark": "build",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "lake": lake_description(lake_dir),
        "runs": [],
        "summary": None,
        "kept_folder": None,
    }
    for index in range(1, runs + 1):
        folder = Path(work_dir).resolve() / f"build-run{index}"
        if folder.exists():
            shutil.rmtree(folder)
        try:
            result["runs"].append(
                bench_run(project, lake_dir, folder, athena_scales=athena_scales, days=days, plain=plain)
            )
        except DbtError as failed:
            # The folder stays for a look: dbt's output is in its <run>.out files (the lake is synthetic).
            first = str(failed).splitlines()[0].rstrip(":")
            raise DbtError(f"{first}; the folder of run {index} is kept: {folder} (dbt output in *.out)") from None
        if keep and index == runs:
            result["kept_folder"] = str(folder)
        else:
            shutil.rmtree(folder, ignore_errors=True)
        result["summary"] = summarize(result["runs"])
        out_json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result


def _breakdown_report(title: str, medians: Mapping[str, float | None], last: Mapping[str, Any]) -> list[str]:
    """Where a build's node time went (medians), then its slowest models and tests in the last run."""
    busy = sum(v or 0.0 for v in medians.values())
    out = [
        f"{title}, where node time went (seconds summed over dbt's threads):",
        _table(
            ["part", "seconds", "share %"],
            [[part, _num(v), _num(100 * (v or 0.0) / busy if busy else None)] for part, v in medians.items()],
        ),
        "",
        f"{title}, slowest models (last run; create + guard + other statements): "
        + ", ".join(
            f"{m['model']} {m['create_seconds'] + m['guard_seconds'] + m.get('other_seconds', 0.0):.1f} s"
            for m in last["top_models"]
        ),
    ]
    if last.get("top_tests"):
        tests = ", ".join(f"{t['test']} {t['seconds']:.1f} s" for t in last["top_tests"])
        out.append(f"{title}, slowest tests (last run): {tests}")
    if last.get("statements_at_once"):
        out.append(_at_once_line(title, last["statements_at_once"]))
    return [*out, ""]


def _at_once_line(title: str, at_once: Mapping[str, float]) -> str:
    """How many statements ran at once from the first node on (last run), most first."""
    spans = sorted(((int(count), seconds) for count, seconds in at_once.items()), reverse=True)
    parts = ", ".join(f"{f'{count} at once' if count else 'none'} {seconds:.1f} s" for count, seconds in spans)
    total = sum(seconds for _, seconds in spans)
    return f"{title}, statements running from its first node on (last run, {total:.1f} s): {parts}"


def _plain_tables_line(plain: Mapping[str, Any]) -> str:
    """What the plain script wrote (last run): its statements, and its tables against the build's."""
    tables = plain["tables"]
    line = (
        f"plain script (the full build's {plain['statements']} writing statements, no dbt, no tests, no guard; "
        f"last run): {len(tables['same'])} tables the same as the build's"
    )
    if tables["left_out"]:
        line += f", {len(tables['left_out'])} left out (the run's hooks write them: {', '.join(tables['left_out'])})"
    if tables["differ"]:
        line += f"; DIFFERENT from the build's: {', '.join(tables['differ'])}"
    return line


def format_build_report(result: dict) -> str:
    """Medians, ratios, each build's breakdown and slowest models and tests as plain text, then the goals."""
    s = result["summary"]
    gib = 2**30
    rows = [
        [
            "full build",
            _num(s["full_wall_seconds"]),
            _num(s["full_cpu_seconds"]),
            _num((s["full_peak_rss_bytes"] or 0) / gib, "{:,.2f}"),
        ],
        [
            "one-day run",
            _num(s["incremental_wall_seconds"]),
            _num(s["incremental_cpu_seconds"]),
            _num((s["incremental_peak_rss_bytes"] or 0) / gib, "{:,.2f}"),
        ],
        ["read everything", _num(s["read_everything_seconds"], "{:,.2f}"), "-", "-"],
    ]
    if s.get("plain_wall_seconds") is not None:
        rows.append(
            [
                "plain script",
                _num(s["plain_wall_seconds"]),
                _num(s["plain_cpu_seconds"]),
                _num((s["plain_peak_rss_bytes"] or 0) / gib, "{:,.2f}"),
            ]
        )
    out = [f"{s['runs']} run(s), medians; lake: {result['lake']['path']}"]
    out += [_table(["", "wall s", "CPU s", "peak GiB"], rows), ""]
    plain = result["runs"][-1].get("plain_script")
    if plain:
        out += [_plain_tables_line(plain), ""]
    daily = s.get("daily_runs") or []
    if len(daily) > 1:
        out += [
            "appended days, built one after another (the first is the one-day run above):",
            _table(
                ["day", "what its window reads", "wall s", "CPU s", "% of full"],
                [
                    [
                        d["date"],
                        d["kind"],
                        _num(d["wall_seconds"]),
                        _num(d["cpu_seconds"]),
                        _num(100 * d["share_of_full"]),
                    ]
                    for d in daily
                ],
            ),
            "",
        ]
    before = s.get("full_before_first_node_seconds")
    if before is not None:
        out += [f"full build: {_num(before)} s of its wall time before the first node (start-up, dbt's parse)", ""]
    for build, title in (("full", "full build"), ("incremental", "one-day run")):
        out += _breakdown_report(title, s[f"{build}_breakdown"], result["runs"][-1][f"{build}_build"]["breakdown"])
    goals = s["goals"]

    def verdict(ok: bool | None) -> str:
        return "-" if ok is None else ("met" if ok else "NOT met")

    share = s["incremental_share_of_full"]
    if s.get("full_over_plain") is not None:
        out.append(
            f"full build ≤ {GOAL_FULL_OVER_PLAIN}× the plain script: {_num(s['full_over_plain'], '{:,.2f}')}×, "
            f"{verdict(goals['full_over_plain_within_goal'])}"
        )
    out.append(
        f"full build ≤ {GOAL_FULL_OVER_READ:.0f}× read-everything: {_num(s['full_over_read'])}×, "
        f"{verdict(goals['full_over_read_within_goal'])}"
    )
    out.append(
        f"one-day run ≤ {100 * GOAL_INCREMENTAL_SHARE:.0f} % of full: "
        f"{_num(100 * share if share is not None else None)} %, {verdict(goals['incremental_share_within_goal'])}"
    )
    ordinary = s.get("ordinary_day_share_of_full")
    if ordinary is not None:
        out.append(
            f"ordinary day (no sparse feed in its window; median) ≤ {100 * GOAL_INCREMENTAL_SHARE:.0f} % of full: "
            f"{_num(100 * ordinary)} %, {verdict(ordinary <= GOAL_INCREMENTAL_SHARE)}"
        )
    athena = result["runs"][-1].get("athena")
    if athena:
        from taglake.bench.athena_scan import format_athena_report

        out += ["", format_athena_report(athena)]
    if result.get("kept_folder"):
        out += [
            "",
            f"the last run's folder is kept (its database, *.dbt.log and *.out per build): {result['kept_folder']}",
        ]
    return "\n".join(out)
