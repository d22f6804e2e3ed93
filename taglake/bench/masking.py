"""The masking-cost benchmark (`taglake bench masking`): what masking personal data in staging costs.

Two measurements, one JSON:

- treatment throughput (taglake.bench.masking_treatments): each treatment macro's rows/s and ns/row on DuckDB, over a
  synthetic column made in DuckDB;
- build comparison (taglake.bench.masking_build): the full `dbt build` of a lake with masking, against the same build
  with the identity treatment, which writes clear personal data into a throwaway database deleted afterwards.

docs/benchmarks.md says what is measured and gives the figures.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import duckdb

from taglake.bench.masking_build import build_comparison
from taglake.bench.masking_treatments import treatment_throughput
from taglake.core.project import Project

__all__ = [
    "build_comparison",
    "format_masking_report",
    "machine_description",
    "run_masking_benchmark",
    "treatment_throughput",
]


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def machine_description() -> dict:
    """Cores, memory, CPU model, OS, and the versions of Python, DuckDB and dbt the figures were taken with."""
    return {
        "cores": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "duckdb": duckdb.__version__,
        "dbt_core": _version("dbt-core"),
        "dbt_duckdb": _version("dbt-duckdb"),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def lake_description(lake_dir: Path) -> dict:
    """The lake's generator parameters and row counts (from its manifest), and its size on disk."""
    manifest = json.loads((lake_dir / "manifest.json").read_text(encoding="utf-8"))
    return {
        "path": str(lake_dir),
        "scale": manifest.get("scale"),
        "seed": manifest.get("seed"),
        "engine": manifest.get("engine"),
        "params": manifest.get("params"),
        "rows": {table: info["rows"] for table, info in manifest.get("tables", {}).items()},
        "bytes_on_disk": sum(p.stat().st_size for p in (lake_dir / "raw").rglob("*") if p.is_file()),
    }


def run_masking_benchmark(
    project: Project,
    *,
    lake_dir: Path,
    rows: int,
    runs: int,
    build_runs: int,
    out_json: Path,
    work_dir: Path | None = None,
) -> dict:
    """Both measurements, with the machine and the lake described; the result is written to `out_json` (after
    each part, so a long run that fails late keeps what it measured). `rows=0` skips the treatment throughput,
    `build_runs=0` the build comparison. Builds go under `work_dir` (the last masked build is kept there); without
    one, under a temporary folder beside `out_json` that is deleted at the end."""
    lake_dir = Path(lake_dir).resolve()
    out_json = Path(out_json)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    result: dict = {
        "benchmark": "masking",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "lake": lake_description(lake_dir) if build_runs else None,
        "parameters": {"rows": rows, "runs": runs, "build_runs": build_runs},
        "treatments": None,
        "builds": None,
    }

    def save() -> None:
        out_json.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    started = time.perf_counter()
    if rows:
        result["treatments"] = treatment_throughput(project, rows=rows, runs=runs)
        save()
    if build_runs:
        temporary = work_dir is None
        folder = Path(tempfile.mkdtemp(prefix="bench-work-", dir=out_json.parent)) if temporary else Path(work_dir)
        try:
            result["builds"] = build_comparison(project, lake_dir, runs=build_runs, work_dir=folder)
        finally:
            if temporary:
                shutil.rmtree(folder, ignore_errors=True)
        if temporary:
            result["builds"]["kept_masked_database"] = None
    result["elapsed_seconds"] = time.perf_counter() - started
    save()
    return result


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _num(value: float | None, fmt: str = "{:,.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def format_masking_report(result: dict) -> str:
    """The benchmark's figures as plain-text tables."""
    out = []
    m = result.get("machine") or {}
    memory = m.get("memory_bytes")
    out.append(
        f"machine: {m.get('cores')} cores, {_num(memory / 2**30 if memory else None)} GiB, {m.get('cpu_model')}; "
        f"duckdb {m.get('duckdb')}, dbt-core {m.get('dbt_core')}, dbt-duckdb {m.get('dbt_duckdb')}"
    )
    treatments = result.get("treatments")
    if treatments:
        first = treatments[0]
        out.append("")
        out.append(
            f"treatment throughput: {first['rows']:,} synthetic rows, median of {first['runs']} run(s), "
            f"{first['duckdb_threads']} DuckDB threads"
        )
        rows = [
            [
                t["treatment"],
                _num(t["rows_per_second"] / 1e6, "{:,.2f}"),
                _num(t["ns_per_row"], "{:,.0f}"),
                _num(t["overhead_ns_per_row"], "{:,.0f}"),
                _num(t["seconds_median"], "{:,.3f}"),
            ]
            for t in treatments
        ]
        out.append(_table(["treatment", "Mrows/s", "ns/row", "overhead ns/row", "median s"], rows))
    builds = result.get("builds")
    if builds:
        s = builds["summary"]
        lake = result.get("lake") or {}
        out.append("")
        out.append(
            f"full dbt build: lake {lake.get('scale') or builds['lake_dir']} "
            f"({_num((lake.get('bytes_on_disk') or 0) / 1e9, '{:,.2f}')} GB), {builds['runs']} run(s) per mode, "
            f"order {', '.join(builds['order'])}"
        )
        rows = []
        for mode in ("masking", "identity"):
            ms = s[mode]
            rss = ms["peak_rss_bytes_median"]
            db = ms["database_bytes_median"]
            rows.append(
                [
                    mode,
                    _num(ms["wall_seconds_median"]),
                    " ".join(_num(w) for w in ms["wall_seconds"]),
                    _num(rss / 2**30 if rss else None, "{:,.2f}"),
                    _num(db / 1e9 if db else None, "{:,.2f}"),
                ]
            )
        out.append(_table(["build", "median s", "runs s", "peak RSS GiB", "db GB"], rows))
        out.append(
            f"ratio masking/identity: wall {_num(s['ratio_wall'], '{:.3f}')}, "
            f"peak RSS {_num(s['ratio_peak_rss'], '{:.3f}')}; per run (back-to-back pairs) "
            + ", ".join(f"#{run} {r:.3f}" for run, r in (s.get("ratio_wall_per_run") or {}).items())
            + f", median {_num(s.get('ratio_wall_per_run_median'), '{:.3f}')}"
        )
        layers = sorted(set(s["masking"]["seconds_by_layer_median"]) | set(s["identity"]["seconds_by_layer_median"]))
        out.append("")
        out.append("node seconds by layer (sum of dbt execution times, median):")
        out.append(
            _table(
                ["layer", "masking s", "identity s"],
                [
                    [
                        layer,
                        _num(s["masking"]["seconds_by_layer_median"].get(layer)),
                        _num(s["identity"]["seconds_by_layer_median"].get(layer)),
                    ]
                    for layer in layers
                ],
            )
        )
        out.append("")
        out.append(
            "models, median seconds: dbt's execution time (incl. the privacy-guard post-hook), and from dbt.log the "
            "model's create-table statement and the guard's sample query:"
        )
        out.append(
            _table(
                ["model", "masking", "identity", "delta", "ratio", "create mask", "create ident", "guard"],
                [
                    [
                        r["model"],
                        _num(r["masking_seconds_median"], "{:,.2f}"),
                        _num(r["identity_seconds_median"], "{:,.2f}"),
                        _num(r["delta_seconds"], "{:+,.2f}"),
                        _num(r["ratio"], "{:.2f}"),
                        _num(r.get("masking_create_seconds_median"), "{:,.2f}"),
                        _num(r.get("identity_create_seconds_median"), "{:,.2f}"),
                        _num(r.get("masking_guard_seconds_median"), "{:,.2f}"),
                    ]
                    for r in s["models"]
                ],
            )
        )
    return "\n".join(out)
