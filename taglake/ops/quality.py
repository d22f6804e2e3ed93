"""The quality history from dbt's artifacts: `taglake quality record`.

The on-run-end hook `record_quality_history` (macros/quality/quality_history.sql) records every run's data tests,
source freshness checks and reconciliation in `fct_quality_check_results` as it ends. This module records the same
outcomes after the fact, from target/run_results.json and target/sources.json, for what the hook could not: a
freshness check that ran before the history table existed (the first run), or artifacts of a run on another worker.
It passes only ids, statuses and counts to the dbt operation `record_quality_results`, which reads everything else
from the graph; recording a run again replaces its rows (one row per check per run). The one exception is a failed or
warned `column_values` test (tests/generic/column_values.sql: a model's not_null and accepted_values checks in one
query): its compiled query goes along, so that the operation runs it again and records each check's own count, as
the hook does. That query is the project's SQL over the model (counts only); it holds no value and no key.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from taglake.core.artifacts import FreshnessCheckFailed, RunResults, Sources, run_results_if_written, sources_if_written
from taglake.core.errors import TaglakeError
from taglake.core.project import Project
from taglake.privacy.dbt_runner import run_dbt

# The closed form of a run id (the hook checks the same: macros/quality/quality_history.sql, quality_run_id).
RUN_ID = re.compile(r"[A-Za-z0-9_.:+-]{1,200}")
AS_OF = re.compile(r"\d{4}-\d{2}-\d{2}")
# What run_results.json holds that the history records: data tests, and the models its reconciliation reads.
RECORDED_KINDS = ("test", "model")
# A column_values test's name (the project rule in tests_py/dbt_project/test_project_rules.py: column_values_<model>),
# and the statuses whose compiled query the history runs again for each check's count.
COLUMN_VALUES_PREFIX = "column_values_"
SPLIT_STATUSES = ("fail", "warn")


class QualityRecordError(TaglakeError):
    """A run id, date or artifact `taglake quality record` cannot record: the message names it and the fix."""


@dataclass(frozen=True)
class Outcome:
    """One node's outcome as the history needs it: no message, no value; SQL only for a failed column_values test."""

    unique_id: str
    status: str
    failures: int | None = None
    newest: str | None = None  # a freshness check's newest landing day, YYYY-MM-DD
    compiled: str | None = None  # a failed or warned column_values test's compiled query

    def as_arg(self) -> dict[str, object]:
        arg: dict[str, object] = {
            "unique_id": self.unique_id,
            "status": self.status,
            "failures": self.failures,
            "newest": self.newest,
        }
        if self.compiled:
            arg["compiled"] = self.compiled
        return arg


def check_run_id(run_id: str) -> str:
    if not RUN_ID.fullmatch(run_id):
        raise QualityRecordError("--run-id: 1 to 200 letters, digits or _ . : + - (an Airflow run id fits)")
    return run_id


def check_as_of(as_of: str | None) -> str | None:
    if as_of is not None and not AS_OF.fullmatch(as_of):
        raise QualityRecordError("--as-of: a date, YYYY-MM-DD")
    return as_of


def artifact_run_id(run_results: RunResults) -> str:
    """The run a run_results.json belongs to: its var taglake_run_id, else its invocation id (as the hook)."""
    variables = (run_results.args or {}).get("vars") or {}
    if isinstance(variables, str):  # older dbt wrote the --vars text
        variables = {}
    run_id = variables.get("taglake_run_id") if isinstance(variables, dict) else None
    return str(run_id) if run_id else str(run_results.metadata.invocation_id)


def outcomes_of(run_results: RunResults | None, sources: Sources | None) -> list[Outcome]:
    """The outcomes the history records: every data test and model of run_results.json (the hook reads the
    reconciliation models' tables when they were built), every source of sources.json."""
    found: list[Outcome] = []
    for result in run_results.results if run_results else []:
        if result.unique_id.split(".")[0] in RECORDED_KINDS:
            failures = result.failures if isinstance(result.failures, int) else None
            status = result.status.value
            split = status in SPLIT_STATUSES and result.unique_id.split(".")[2].startswith(COLUMN_VALUES_PREFIX)
            compiled = (result.compiled_code or None) if split else None
            found.append(Outcome(result.unique_id, status, failures, compiled=compiled))
    for checked in sources.results if sources else []:
        newest = None if isinstance(checked, FreshnessCheckFailed) else (checked.max_loaded_at or "")[:10] or None
        found.append(Outcome(checked.unique_id, checked.status.value, None, newest))
    return found


def record(
    project: Project,
    *,
    target: str | None,
    run_id: str,
    as_of: str | None = None,
    run_results_path: Path | None = None,
    sources_path: Path | None = None,
) -> int:
    """Record the outcomes of run_results.json and sources.json (default: the project's target/) under `run_id`;
    returns how many outcomes were passed on. A run_results.json of another run is refused (its rows would land
    under the wrong run id)."""
    check_run_id(run_id)
    check_as_of(as_of)
    results_file = run_results_path or project.target_path / "run_results.json"
    sources_file = sources_path or project.target_path / "sources.json"
    run_results = run_results_if_written(results_file)
    if run_results is not None and artifact_run_id(run_results) != run_id:
        raise QualityRecordError(
            f"{results_file}: written by run {artifact_run_id(run_results)}, not {run_id}: pass that --run-id, "
            "or --run-results with the run's own file"
        )
    outcomes = outcomes_of(run_results, sources_if_written(sources_file))
    if not outcomes:
        raise QualityRecordError(
            f"nothing to record: neither {results_file} nor {sources_file} holds a check; run `dbt build` or "
            "`dbt source freshness` first"
        )
    variables: dict[str, str] = {"taglake_run_id": run_id}
    if as_of:
        variables["taglake_as_of_date"] = as_of
    # The operation writes its own run_results.json over the run's: the run's is put back, for what reads it next
    # (`taglake metrics put`, the alerts).
    kept = results_file.read_bytes() if results_file.is_file() else None
    try:
        _record_outcomes(project, target, outcomes, variables)
    finally:
        written = project.target_path / "run_results.json"
        if results_file == written and kept is not None:
            written.write_bytes(kept)
        elif results_file == written:
            written.unlink(missing_ok=True)
    return len(outcomes)


def _record_outcomes(project: Project, target: str | None, outcomes: list[Outcome], variables: dict[str, str]) -> None:
    run_dbt(
        project,
        [
            "run-operation",
            "record_quality_results",
            "--args",
            json.dumps({"outcomes": [o.as_arg() for o in outcomes]}),
            "--vars",
            json.dumps(variables),
        ],
        target=target,
        quiet=True,
    )
