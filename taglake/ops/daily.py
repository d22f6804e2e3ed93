"""The daily run: source freshness, the (incremental) build, then the leak scan; a short summary of each step.

`taglake run-daily` is a thin layer over `run_daily`. Each step is a dbt or taglake call whose failure stops the
run: stale sources are not built on (unless allowed), a failed build is not scanned, and any leak fails the day.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from taglake.core import targets
from taglake.core.project import Project
from taglake.privacy.dbt_runner import run_dbt


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str
    report: str = ""  # the full report of a failing step, when it has one (never a value)


@dataclass
class DailyResult:
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps)

    def rows(self) -> list[tuple[str, str, str, str]]:
        return [(s.name, "ok" if s.ok else "FAILED", f"{s.seconds:.1f}", s.detail) for s in self.steps]


def _timed(name: str, action: Callable[[], tuple[bool, str] | tuple[bool, str, str]]) -> Step:
    start = time.monotonic()
    ok, detail, *report = action()
    return Step(name, ok, time.monotonic() - start, detail, *report)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def freshness_detail(sources_json: dict) -> str:
    """`5 pass` / `4 pass, 1 error` from dbt's sources.json (statuses only; never a value)."""
    counts = Counter(result.get("status", "?") for result in sources_json.get("results", []))
    newest = max((r.get("max_loaded_at", "") for r in sources_json.get("results", [])), default="")
    text = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no sources checked"
    return f"{text}; newest landing {newest[:10]}" if newest else text


def build_detail(run_results: dict) -> str:
    """`42 models (6 incremental), 2 snapshots, 120 tests: 164 success/pass` from dbt's run_results.json."""
    results = run_results.get("results", [])
    kinds = Counter(r["unique_id"].split(".")[0] for r in results)
    statuses = Counter(r.get("status", "?") for r in results)
    parts = [f"{n} {kind}s" for kind, n in sorted(kinds.items())]
    return (", ".join(parts) or "nothing built") + ": " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))


def run_daily(
    project: Project,
    *,
    target: str | None = None,
    allow_stale: bool = False,
    scan: bool = True,
    build_args: Sequence[str] = (),
) -> DailyResult:
    """Run the day on `target`: `dbt source freshness`, `dbt deps` + `dbt build`, then `scan-pii` of the local
    build. Stops at the first failing step (a stale source is a failure unless `allow_stale`)."""
    result = DailyResult()
    is_local = targets.is_local(target)

    def freshness() -> tuple[bool, str]:
        code = run_dbt(project, ["source", "freshness"], target=target, check=False, quiet=True)
        detail = freshness_detail(_read_json(project.target_path / "sources.json"))
        if code != 0 and allow_stale:
            return True, detail + " (stale allowed)"
        return code == 0, detail

    def build() -> tuple[bool, str]:
        if run_dbt(project, ["deps"], target=target, check=False, quiet=True) != 0:
            return False, "dbt deps failed"
        code = run_dbt(project, ["build", *build_args], target=target, check=False, quiet=True)
        return code == 0, build_detail(_read_json(project.target_path / "run_results.json"))

    def leak_scan() -> tuple[bool, str, str]:
        from taglake.privacy.scan.scanner import format_report, scan_project

        hits = scan_project(project)
        if hits:
            return False, f"{len(hits)} leaks found", format_report(hits)
        return True, "no clear personal data, no key material", ""

    for name, action in (("source freshness", freshness), ("build", build)):
        step = _timed(name, action)
        result.steps.append(step)
        if not step.ok:
            return result
    if scan and is_local:
        result.steps.append(_timed("scan-pii", leak_scan))
    return result
