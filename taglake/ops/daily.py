"""The daily run: source freshness, the (incremental) build, then the leak scan; a short summary of each step.
The build's data tests and privacy guard check each incremental model's landing window (taglake.ops.run_window);
on a local target the windows start at the raw partitions that changed since the last run that passed
(taglake.ops.run_ledger), whose listing a passing build records.

`taglake run-daily` is a thin layer over `run_daily`. Each step is a dbt or taglake call whose failure stops the
run: stale sources are not built on (unless allowed), a failed build is not scanned, and any leak fails the day.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from taglake.core import targets
from taglake.core.artifacts import (
    FreshnessCheckFailed,
    RunResults,
    SourceFreshness,
    Sources,
    run_results_if_written,
    sources_if_written,
)
from taglake.core.project import Project
from taglake.ops.local_build import declares_packages
from taglake.ops.run_ledger import LedgerPlan, builds_everything, plan_daily, record_ledger
from taglake.ops.run_window import newest_landings, window_detail, window_env
from taglake.privacy.dbt_runner import run_dbt


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    detail: str
    report: str = ""  # what a person should read below the table: a failing step's report, stale sources (no value)


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


# dbt's freshness statuses said as what they mean: `error` and `warn` are a source older than its limits (stale),
# not a failure of the check; `runtime error` is the check itself failing.
FRESHNESS_WORDS = {"pass": "fresh", "warn": "stale (warn)", "error": "stale", "runtime error": "check failed"}


def freshness_detail(sources: Sources | None) -> str:
    """`5 fresh` / `4 stale, 1 fresh; newest landing …` from dbt's sources.json (statuses only; never a value;
    `sources` is None when dbt wrote none)."""
    results = sources.results if sources else []
    counts = Counter(FRESHNESS_WORDS.get(result.status.value, "?") for result in results)
    newest = max((_max_loaded_at(r) for r in results), default="")
    text = ", ".join(f"{n} {word}" for word, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    text = text or "no sources checked"
    return f"{text}; newest landing {newest[:10]}" if newest else text


STALE_STATUSES = frozenset({"warn", "error"})


def _max_loaded_at(result: SourceFreshness | FreshnessCheckFailed) -> str:
    """The newest landing dbt found; none when the freshness query itself failed."""
    return "" if isinstance(result, FreshnessCheckFailed) else result.max_loaded_at


def stale_lines(sources: Sources | None, *, allowed: bool) -> list[str]:
    """One line per source dbt found stale (status warn or error in sources.json), e.g.
    `stale (allowed by --allow-stale): crm.customers newest landing 2026-10-31, 31 days`; a source whose
    freshness query itself failed says so. dbt's own freshness output stays in logs/dbt.log."""
    how = "stale (allowed by --allow-stale)" if allowed else "stale"
    lines = []
    for result in sorted(sources.results if sources else [], key=lambda r: r.unique_id):
        name = ".".join(result.unique_id.split(".")[-2:])
        status = result.status.value
        if status == "runtime error":
            lines.append(f"freshness check failed: {name} (see logs/dbt.log)")
        elif status in STALE_STATUSES and not isinstance(result, FreshnessCheckFailed):
            newest = result.max_loaded_at[:10] or "never"
            days = f", {int(result.max_loaded_at_time_ago_in_s // 86_400)} days"
            lines.append(f"{how}: {name} newest landing {newest}{days}")
    return lines


def build_detail(run_results: RunResults | None) -> str:
    """`42 models (6 incremental), 2 snapshots, 120 tests: 164 success/pass` from dbt's run_results.json
    (`run_results` is None when dbt wrote none)."""
    results = run_results.results if run_results else []
    kinds = Counter(r.unique_id.split(".")[0] for r in results)
    statuses = Counter(r.status.value for r in results)
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

    def freshness() -> tuple[bool, str, str]:
        # dbt's per-source ERROR STALE lines stay in logs/dbt.log: a stale source is reported as what it is
        code = run_dbt(
            project, ["source", "freshness"], target=target, check=False, quiet=True, on_failure=lambda _: ""
        )
        sources = sources_if_written(project.target_path / "sources.json")
        detail = freshness_detail(sources)
        stale = stale_lines(sources, allowed=allow_stale)
        report = "".join(f"{line}\n" for line in stale)
        if code != 0 and not (sources and sources.results):
            report += "dbt source freshness failed before checking a source: see logs/dbt.log\n"
        only_stale = bool(stale) and not any(line.startswith("freshness check failed") for line in stale)
        if code != 0 and allow_stale and only_stale:
            return True, detail + " (stale allowed)", report
        return code == 0, detail, report

    def build() -> tuple[bool, str]:
        if declares_packages(project.root) and run_dbt(project, ["deps"], target=target, check=False, quiet=True) != 0:
            return False, "dbt deps failed"
        # read before the build: each incremental model's newest landing, whence the window its tests and its
        # privacy guard check (taglake.ops.run_window); none in a full refresh or a first build (whole tables)
        landings = newest_landings(project, target, build_args)
        # and, on a local target, the raw files as they are now against the last passing run's (the ledger)
        ledger = plan_daily(project, target, landings) if is_local else LedgerPlan(None, {})
        code = run_dbt(
            project,
            ["build", *build_args],
            target=target,
            check=False,
            quiet=True,
            extra_env=window_env(landings, ledger.changes),
        )
        detail = build_detail(run_results_if_written(project.target_path / "run_results.json"))
        detail = f"{detail}; {window_detail(landings, ledger.changes)}"
        if code == 0 and builds_everything(build_args) and not record_ledger(project, target, ledger):
            # the build stands; the next run compares with the older ledger, so its windows are wider
            detail += "; raw file ledger not recorded (the next run re-reads its lookback)"
        return code == 0, detail

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
