"""Alerts: what failed in a run, as one message per failure class, with names and counts only.

The inputs are dbt's own artifacts (run_results.json, sources.json and the manifest, read through
`taglake.core.artifacts`), the leak scan's outcome and, from the DAG's on-failure callback, the failed task. The
output is a list of `Alert`s, one per class (test_failure, freshness_breach, quarantine_spike, leak_detected,
run_failed, key_problem), each with a severity, the failing checks (a node's name, its kind, status, failing-row
count and how often it failed in the run: repeats of one check are batched into one entry), the run id, the as-of
date and the link to the class's runbook (docs/runbooks/<class>.md under a configurable base).

What an alert never carries: a value. dbt's `message`, compiled SQL, error texts, the rows a test found are never
read into an alert. A node's name is the project's own, but a name is text someone wrote: one that does not look
like a dbt identifier, or that holds a personal-data shape (taglake.privacy.patterns) or a long run of digits or
hex (key material), is withheld and said as such. Publishing (SNS) is taglake.ops.alert_publish.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taglake.core.errors import Refused
from taglake.privacy import patterns

CLASSES: tuple[str, ...] = (
    "test_failure",
    "freshness_breach",
    "quarantine_spike",
    "leak_detected",
    "run_failed",
    "key_problem",
)
SEVERITIES: tuple[str, ...] = ("warning", "high", "critical")  # lowest first
# Each class's severity when a check fails at dbt's `error` severity (a `warn` is "warning").
CLASS_SEVERITY: Mapping[str, str] = {
    "test_failure": "high",
    "freshness_breach": "high",
    "quarantine_spike": "high",
    "leak_detected": "critical",
    "run_failed": "high",
    "key_problem": "critical",
}
TITLES: Mapping[str, str] = {
    "test_failure": "data tests failed",
    "freshness_breach": "sources are stale or did not land",
    "quarantine_spike": "quarantined rows above their history",
    "leak_detected": "clear personal data or key material found",
    "run_failed": "the run failed",
    "key_problem": "the masking key is missing, unsound or not the build's",
}
DEFAULT_CLASS = "test_failure"
RUNBOOK_BASE_ENV = "TAGLAKE_RUNBOOK_BASE_URL"
DEFAULT_RUNBOOK_BASE = "docs/runbooks/"
RUNBOOK_DIR = Path("docs") / "runbooks"

# What a run id and an environment may look like (Airflow's `scheduled__2026-12-01T00:00:00+00:00`, `manual__…`).
_RUN_ID = re.compile(r"[A-Za-z0-9_.:+\-]{1,250}")
_WORD = re.compile(r"[a-z][a-z0-9_\-]{0,63}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# A shown name: a dbt identifier path (`taglake.not_null_x`), never anything else.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,200}(\.[a-z0-9_]{1,200}){0,4}")
# Key material and long numbers: 6+ digits in a row (underscores between them ignored), or 16+ hex characters or
# 32+ base64-like ones without a separator.
_DIGITS = re.compile(r"\d{6,}")
_SECRET_LIKE = re.compile(r"[0-9a-f]{16,}|[A-Za-z0-9+/=]{32,}")
WITHHELD = "<name withheld: not a plain dbt name>"


def runbook_file(alert_class: str) -> str:
    """The runbook's file name for a class: `test_failure` → `test-failure.md`."""
    return alert_class.replace("_", "-") + ".md"


def runbook_url(alert_class: str, base: str = DEFAULT_RUNBOOK_BASE) -> str:
    return base.rstrip("/") + "/" + runbook_file(alert_class)


def safe_name(name: str) -> str:
    """`name` when it is a plain dbt name with no personal-data shape and nothing like key material; else
    WITHHELD. The only way a name gets into an alert."""
    if not _NAME.fullmatch(name):
        return WITHHELD
    spaced = re.sub(r"[_.]", " ", name)
    if patterns.matches(name) or patterns.matches(spaced) or _DIGITS.search(name.replace("_", "")):
        return WITHHELD
    if _SECRET_LIKE.search(name):
        return WITHHELD
    return name


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.fullmatch(run_id):
        raise Refused("--run-id: use the Airflow run id (letters, digits and _ . : + -, at most 250 characters)")
    return run_id


def check_word(value: str, what: str) -> str:
    if not _WORD.fullmatch(value):
        raise Refused(f"{what}: a lower-case word (letters, digits, _ and -, at most 64 characters)")
    return value


def check_date(value: str) -> str:
    if not _DATE.fullmatch(value):
        raise Refused("--as-of: a date as YYYY-MM-DD")
    return value


@dataclass
class Failure:
    """One failing check in a run: never its message, its SQL or its rows."""

    alert_class: str
    node: str  # safe_name'd
    kind: str  # test, model, snapshot, seed, source, task, scan
    status: str  # fail, error, warn, stale, timed out, …
    severity: str
    failing_rows: int | None = None
    occurrences: int = 1
    check_id: str = ""  # what batches repeats (dbt's unique_id); never shown: a name may be withheld

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"node": self.node, "kind": self.kind, "status": self.status}
        if self.failing_rows is not None:
            found["failing_rows"] = self.failing_rows
        if self.occurrences > 1:
            found["occurrences"] = self.occurrences
        return found


@dataclass
class RunContext:
    run_id: str
    as_of: str
    environment: str
    target: str
    runbook_base: str = DEFAULT_RUNBOOK_BASE


@dataclass
class Alert:
    """One message: one failure class of one run."""

    alert_class: str
    severity: str
    context: RunContext
    failures: list[Failure] = field(default_factory=list)
    reason: str = ""

    @property
    def subject(self) -> str:
        """SNS subjects: ASCII, at most 100 characters."""
        text = f"[{self.severity}] taglake {self.context.environment}: {TITLES[self.alert_class]} ({self.count})"
        return text[:100]

    @property
    def count(self) -> int:
        return sum(f.occurrences for f in self.failures) or 1

    def body(self) -> dict[str, Any]:
        rows = [f.failing_rows for f in self.failures if f.failing_rows is not None]
        counts: dict[str, int] = {"checks": len(self.failures), "failures": self.count}
        if rows:
            counts["failing_rows"] = sum(rows)
        body: dict[str, Any] = {
            "class": self.alert_class,
            "severity": self.severity,
            "title": TITLES[self.alert_class],
            "environment": self.context.environment,
            "target": self.context.target,
            "run_id": self.context.run_id,
            "as_of": self.context.as_of,
            "counts": counts,
            "failed": [f.as_dict() for f in self.failures],
            "runbook": runbook_url(self.alert_class, self.context.runbook_base),
        }
        if self.reason:
            body["reason"] = self.reason
        return body

    def attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes, for subscription filter policies."""
        values = {
            "class": self.alert_class,
            "severity": self.severity,
            "environment": self.context.environment,
            "target": self.context.target,
        }
        return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


def _max_severity(severities: Iterable[str]) -> str:
    return max(severities, key=SEVERITIES.index, default="high")


def batch(failures: Sequence[Failure], context: RunContext, reasons: Mapping[str, str] | None = None) -> list[Alert]:
    """One Alert per class, in CLASSES order; repeats of one check (same class, node and status) become one entry
    with its occurrences counted and its failing rows summed."""
    by_class: dict[str, dict[tuple[str, str, str], Failure]] = {}
    for f in failures:
        key = (f.check_id or f.node, f.kind, f.status)
        seen = by_class.setdefault(f.alert_class, {})
        if key in seen:
            kept = seen[key]
            kept.occurrences += f.occurrences
            if f.failing_rows is not None:
                kept.failing_rows = (kept.failing_rows or 0) + f.failing_rows
            kept.severity = _max_severity((kept.severity, f.severity))
        else:
            seen[key] = Failure(**{**f.__dict__})
    alerts = []
    for alert_class in CLASSES:
        if alert_class in by_class:
            entries = sorted(by_class[alert_class].values(), key=lambda f: (f.node, f.kind, f.status))
            alerts.append(
                Alert(
                    alert_class,
                    _max_severity(f.severity for f in entries),
                    context,
                    entries,
                    (reasons or {}).get(alert_class, ""),
                )
            )
    return alerts


# --- from dbt's artifacts -----------------------------------------------------------------------------------------
def alert_meta(manifest: Any) -> dict[str, tuple[str, str]]:
    """unique_id → (alert class, dbt severity) of every test in the manifest: `meta: {alert: <class>}` (in the
    test's config or its own meta), default test_failure. An unknown class is the default, not an error here
    (`tests_py` checks the project's tests name known classes)."""
    found: dict[str, tuple[str, str]] = {}
    for unique_id, node in (getattr(manifest, "nodes", None) or {}).items():
        if not unique_id.startswith("test."):
            continue
        config = getattr(node, "config", None)
        meta = {**(getattr(node, "meta", None) or {}), **(getattr(config, "meta", None) or {})}
        wanted = meta.get("alert")
        alert_class = wanted if wanted in CLASSES else DEFAULT_CLASS
        severity = str(getattr(config, "severity", "ERROR") or "ERROR").lower()
        found[unique_id] = (alert_class, severity)
    return found


def _node_name(unique_id: str) -> str:
    """`test.taglake.not_null_x.abc123` → `not_null_x`; `model.taglake.stg_x` → `stg_x`; a source → `crm.customers`."""
    parts = unique_id.split(".")
    if parts[0] == "source":
        return safe_name(".".join(parts[-2:]))
    if parts[0] in ("test", "unit_test") and len(parts) >= 4:
        return safe_name(parts[2])
    return safe_name(parts[-1] if len(parts) > 1 else unique_id)


_FAILED = frozenset({"fail", "error", "runtime error"})


def run_result_failures(run_results: Any, meta: Mapping[str, tuple[str, str]] | None = None) -> list[Failure]:
    """What failed in a dbt build's run_results: a failed or erroring test by its class (`meta.alert`), a warned
    test only when it names a class itself (its severity "warning"); a model, seed or snapshot in error is
    run_failed. Names and counts only."""
    meta = meta or {}
    failures = []
    for result in getattr(run_results, "results", None) or []:
        unique_id = result.unique_id
        status = result.status.value if hasattr(result.status, "value") else str(result.status)
        kind = unique_id.split(".")[0]
        rows = getattr(result, "failures", None)
        rows = int(rows) if isinstance(rows, int) and not isinstance(rows, bool) else None
        if kind in ("test", "unit_test"):
            alert_class, _ = meta.get(unique_id, (DEFAULT_CLASS, "error"))
            if status in _FAILED:
                severity = CLASS_SEVERITY[alert_class]
            elif status == "warn" and unique_id in meta and meta[unique_id][0] != DEFAULT_CLASS:
                severity = "warning"
            else:
                continue
            failures.append(Failure(alert_class, _node_name(unique_id), kind, status, severity, rows, 1, unique_id))
        elif status in _FAILED:
            severity = CLASS_SEVERITY["run_failed"]
            failures.append(Failure("run_failed", _node_name(unique_id), kind, status, severity, None, 1, unique_id))
    return failures


def freshness_failures(sources: Any, *, allow_stale: bool = False) -> list[Failure]:
    """Stale sources (sources.json status error: high, warn: warning) and freshness checks that failed to run;
    with `allow_stale` (a replay or backfill that chose to go on) only the checks that failed to run."""
    failures = []
    for result in getattr(sources, "results", None) or []:
        status = result.status.value if hasattr(result.status, "value") else str(result.status)
        name = _node_name(result.unique_id)
        uid = result.unique_id
        if allow_stale and status in ("error", "warn"):
            continue
        if status == "error":
            failures.append(Failure("freshness_breach", name, "source", "stale", "high", check_id=uid))
        elif status == "warn":
            failures.append(Failure("freshness_breach", name, "source", "stale (warn)", "warning", check_id=uid))
        elif status == "runtime error":
            failures.append(Failure("freshness_breach", name, "source", "check failed", "high", check_id=uid))
    return failures


def leak_failures(hits: int) -> list[Failure]:
    """The leak scan's outcome: a count, never a place's content."""
    if hits <= 0:
        return []
    return [Failure("leak_detected", "scan_pii", "scan", "leaks found", "critical", failing_rows=hits)]


# --- from the DAG's failed task ------------------------------------------------------------------------------------
TIMEOUT_ERRORS = frozenset({"AirflowTaskTimeout", "AirflowSensorTimeout", "TimeoutError", "DagRunTimeout"})
KEY_ERRORS = frozenset({"KeyFileError", "KeyStateError"})
# Which class a task's failure is, by the DAG's task id (dags/taglake_daily.py names them).
TASK_CLASSES: Mapping[str, str] = {
    "wait_for_landing": "freshness_breach",
    "source_freshness": "freshness_breach",
    "leak_scan": "leak_detected",
    "check_key": "key_problem",
}
DBT_TASK_PREFIX = "dbt_build"


def task_failures(
    task_id: str,
    *,
    error_class: str = "",
    timed_out: bool = False,
    run_results: Any = None,
    sources: Any = None,
    meta: Mapping[str, tuple[str, str]] | None = None,
    leak_hits: int = 0,
) -> tuple[list[Failure], dict[str, str]]:
    """The failures behind one failed task of the DAG, and a reason per class: a key error is key_problem; the
    landing sensor and freshness are freshness_breach (with the stale sources when sources.json says); the leak
    scan is leak_detected; the dbt build is what its run_results say (tests by class, nodes in error run_failed);
    a timeout anywhere else, or anything not known, is run_failed (reason `timed out` / `task failed`)."""
    name = safe_name(task_id.replace("-", "_").lower()) if task_id else WITHHELD
    timed_out = timed_out or error_class in TIMEOUT_ERRORS
    if error_class in KEY_ERRORS or TASK_CLASSES.get(task_id) == "key_problem":
        return [Failure("key_problem", name, "task", "failed", "critical")], {"key_problem": "masking key check failed"}
    if TASK_CLASSES.get(task_id) == "freshness_breach":
        found = freshness_failures(sources) if task_id == "source_freshness" else []
        reason = "the day's landing did not arrive in time" if task_id == "wait_for_landing" else "sources are stale"
        return found or [Failure("freshness_breach", name, "task", "timed out" if timed_out else "failed", "high")], {
            "freshness_breach": reason
        }
    if task_id == "leak_scan":
        found = leak_failures(leak_hits) or [Failure("leak_detected", name, "scan", "leaks found", "critical")]
        return found, {"leak_detected": "the leak scan found clear values or key material in the build"}
    if task_id.startswith(DBT_TASK_PREFIX) and not timed_out:
        found = run_result_failures(run_results, meta)
        if found:
            return found, {}
    status = "timed out" if timed_out else "failed"
    return [Failure("run_failed", name, "task", status, "high")], {
        "run_failed": "timed out" if timed_out else "task failed"
    }
