"""What a task of taglake_daily does when it runs: resolve the run's settings, run a taglake command from the dbt
venv with its output in the task log, check the day's landing, and send the one alert of a failed task."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from taglake_ops import commands, settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunSettings:
    run_id: str
    as_of: str
    environment: str
    target: str
    lake: str  # a folder, or s3://bucket/prefix
    raw_bucket: str
    allow_stale: bool
    paths: settings.Paths


def variable(name: str, default: str) -> str:
    """An Airflow Variable, or `default` when it is unset or no Variable backend is reachable."""
    return _variable(name, default)


def _variable(name: str, default: str) -> str:
    from airflow.sdk import Variable

    try:
        return str(Variable.get(name, default=default))
    except Exception:  # no Variable backend reachable (e.g. a bare `dags test`): the default
        return default


def run_settings(context: Mapping[str, Any]) -> RunSettings:
    """params first, then the Variables taglake_*, then the TAGLAKE_* environment; as_of defaults to the run's
    logical date (ds), so a backfill of a range runs each day as itself."""
    params = context.get("params") or {}
    env = os.environ
    paths = settings.paths()
    target = params.get("target") or _variable("taglake_target", paths.target)
    if target != paths.target:
        raise ValueError(
            "params.target is not this deployment's dbt target (TAGLAKE_TARGET): the task group was rendered for "
            "it; leave the param unset, or deploy another environment for another target"
        )
    return RunSettings(
        run_id=str(context["run_id"]),
        as_of=str(params.get("as_of") or context["ds"]),
        environment=params.get("environment")
        or _variable("taglake_environment", env.get("TAGLAKE_ENVIRONMENT", "dev")),
        target=target,
        lake=_variable("taglake_lake", env.get("TAGLAKE_LAKE_DIR", str(paths.project / "lake"))),
        raw_bucket=_variable("taglake_raw_bucket", env.get("TAGLAKE_RAW_BUCKET", "")),
        allow_stale=bool(params.get("allow_stale")),
        paths=paths,
    )


def taglake_env(run: RunSettings) -> dict[str, str]:
    """The environment taglake (and the dbt it runs) gets: this deployment's project, target and state folder."""
    env = dict(os.environ)
    env.update(
        {
            "TAGLAKE_PROJECT_DIR": str(run.paths.project),
            "TAGLAKE_TARGET": run.target,
            "TAGLAKE_ENVIRONMENT": run.environment,
            "DBT_TARGET_PATH": str(run.paths.target_path),
            "DBT_LOG_PATH": str(run.paths.log_path),
        }
    )
    if not run.lake.startswith("s3://"):
        env["TAGLAKE_LAKE_DIR"] = run.lake
    return env


def dbt_env(paths: settings.Paths) -> dict[str, str]:
    """What cosmos's dbt process gets beside the Airflow worker's environment (parse time: no Variable; the
    window is a template cosmos renders when the build runs)."""
    return {
        "DBT_TARGET_PATH": str(paths.target_path),
        "DBT_LOG_PATH": str(paths.log_path),
        "TAGLAKE_TARGET": paths.target,
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        # the day's window (the run_window task's value): the build's tests and guard check the rows it rewrote
        "TAGLAKE_RUN_WINDOW": "{{ ti.xcom_pull(task_ids='run_window') or '{}' }}",
    }


def run(argv: Sequence[str], run: RunSettings, *, ok_codes: Sequence[int] = (0,), timeout: float | None = None) -> int:
    """Run a taglake command in the project folder; its output (already redacted by taglake) goes to the task log.
    A code outside ok_codes fails the task with one line naming the command (never its output)."""
    result = _completed(argv, run, timeout)
    for line in (result.stdout + result.stderr).splitlines():
        log.info("%s", line)
    if result.returncode not in ok_codes:
        raise RuntimeError(f"taglake {' '.join(argv[1:3])} exited {result.returncode}: see the lines above")
    return result.returncode


def _completed(argv: Sequence[str], run: RunSettings, timeout: float | None) -> subprocess.CompletedProcess[str]:
    """A taglake command run in the project folder with the deployment's environment, its output captured."""
    log.info("running: %s", " ".join(argv[1:3]))
    return subprocess.run(
        list(argv), cwd=run.paths.project, env=taglake_env(run), capture_output=True, text=True, timeout=timeout
    )


def run_window(run: RunSettings) -> str:
    """The window the day's dbt build checks (`taglake run-window`: JSON {model: date}; `{}` checks every table
    whole): the one line it prints, which the task returns and cosmos's dbt build gets as TAGLAKE_RUN_WINDOW."""
    result = _completed(commands.run_window(run.paths.taglake, run.target), run, timeout=600)
    for line in result.stderr.splitlines():
        log.info("%s", line)
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"taglake run-window exited {result.returncode}: see the lines above")
    log.info("window: %s", lines[-1])  # model names and dates only
    return lines[-1]


def landing_present(lake: str, day: date, feeds: Sequence[str] = settings.DAILY_FEEDS) -> list[str]:
    """The daily feeds whose partition for `day` has no file yet (empty: the day has landed)."""
    missing = []
    for feed in feeds:
        partition = f"raw/{feed}/year={day:%Y}/month={day:%m}/day={day:%d}/"
        if lake.startswith("s3://"):
            import boto3

            bucket, _, prefix = lake[len("s3://") :].partition("/")
            key = (prefix.rstrip("/") + "/" if prefix else "") + partition
            listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
            present = listed.get("KeyCount", 0) > 0
        else:
            folder = Path(lake) / partition
            present = folder.is_dir() and any(p.is_file() for p in folder.iterdir())
        if not present:
            missing.append(feed)
    return missing


def _error_class(context: Mapping[str, Any]) -> str:
    exc = context.get("exception")
    return type(exc).__name__ if isinstance(exc, BaseException) else ""


def alert_task_failed(context: Mapping[str, Any]) -> None:
    """on_failure_callback: ONE alert for the failed task, through `taglake alerts task-failed` (which maps the task
    to its class and reads dbt's artifacts for the dbt build). Never raises: a failed alert is logged."""
    try:
        ti = context["ti"]
        paths = settings.paths()
        params = context.get("params") or {}
        environment = params.get("environment") or os.environ.get("TAGLAKE_ENVIRONMENT", "dev")
        as_of = str(params.get("as_of") or context.get("ds") or "")
        argv = commands.alerts_task_failed(
            paths.taglake,
            ti.task_id,
            str(context["run_id"]),
            as_of,
            environment,
            paths.target,
            paths.target_path,
            error_class=_error_class(context),
        )
        env = {**os.environ, "TAGLAKE_PROJECT_DIR": str(paths.project), "TAGLAKE_TARGET": paths.target}
        result = subprocess.run(argv, cwd=paths.project, env=env, capture_output=True, text=True, timeout=120)
        for line in (result.stdout + result.stderr).splitlines():
            log.warning("alert: %s", line)
    except Exception as exc:  # the task already failed; the callback must not hide that
        log.error("alert for the failed task could not be sent: %s", type(exc).__name__)


def alert_run_timed_out(context: Mapping[str, Any]) -> None:
    """The DAG's on_failure_callback: only a run that hit dagrun_timeout is alerted here (a failed task already
    sent its own alert)."""
    reason = str(context.get("reason") or "")
    if "timed_out" not in reason and "timed out" not in reason:
        return
    try:
        paths = settings.paths()
        params = context.get("params") or {}
        argv = commands.alerts_task_failed(
            paths.taglake,
            "taglake_daily",
            str(context.get("run_id") or "unknown"),
            str(params.get("as_of") or context.get("ds") or ""),
            params.get("environment") or os.environ.get("TAGLAKE_ENVIRONMENT", "dev"),
            paths.target,
            paths.target_path,
            error_class="DagRunTimeout",
        )
        subprocess.run(argv, cwd=paths.project, capture_output=True, text=True, timeout=120)
    except Exception as exc:
        log.error("alert for the timed-out run could not be sent: %s", type(exc).__name__)
