"""`taglake alerts publish|task-failed|show`: a run's failures to SNS, one message per class (docs/operations.md)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from taglake.core.cli_args import Subparsers, add_aws_options, non_negative_int
from taglake.core.project import Project


def register(sub: Subparsers) -> None:
    _add_alerts(sub)


def _add_alerts(sub: Subparsers) -> None:
    p = sub.add_parser(
        "alerts",
        help="send a run's failures to SNS: one message per failure class, names and counts only",
        description="Build the alerts of a run from dbt's artifacts (target/run_results.json, sources.json, "
        "manifest.json), the leak scan's count and, for the DAG's on-failure callback, the failed task: one message "
        "per class (test_failure, freshness_breach, quarantine_spike, leak_detected, run_failed, key_problem) with "
        "its severity, the failing checks by name with their counts (repeats batched), the run id, the as-of date "
        "and its runbook (docs/runbooks/). Never a value, a dbt message, SQL or an error text. Message attributes "
        "class, severity, environment and target are for subscription filter policies (docs/operations.md).",
    )
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    publish = verbs.add_parser(
        "publish",
        help="the end of a run: every failure of its build, freshness and leak scan",
        description="Publish one SNS message per failure class found in the run's artifacts; nothing when "
        "nothing failed.",
    )
    _common(publish)
    publish.add_argument(
        "--allow-stale",
        action="store_true",
        help="the run was allowed to go on past stale sources (a replay or backfill): stale sources are not alerted",
    )
    failed = verbs.add_parser(
        "task-failed",
        help="the DAG's on-failure callback: the failed task mapped to its class",
        description="Publish the alert for one failed task of taglake_daily: wait_for_landing and source_freshness "
        "are freshness_breach, leak_scan is leak_detected, check_key or a key error is key_problem, dbt_build.* is "
        "what run_results.json says (tests by their `meta: {alert: …}`, nodes in error run_failed), a timeout or "
        "anything else run_failed.",
    )
    _common(failed)
    failed.add_argument("--task-id", required=True, help="the failed task's id (dbt_build.… for the dbt task group)")
    failed.add_argument("--error-class", default="", help="the exception's class name (e.g. AirflowTaskTimeout)")
    failed.add_argument("--timed-out", action="store_true", help="the task ran out of time")
    show = verbs.add_parser("show", help="print the messages `publish` would send, as JSON lines, and send nothing")
    _common(show, topic=False)


def _common(p: argparse.ArgumentParser, *, topic: bool = True) -> None:
    if topic:
        p.add_argument("--topic-arn", default=None, help="the SNS topic (default: TAGLAKE_ALERT_TOPIC_ARN)")
    p.add_argument("--run-id", required=True, help="the run's id (the Airflow run_id)")
    p.add_argument("--as-of", required=True, help="the run's as-of date, YYYY-MM-DD")
    p.add_argument(
        "--environment",
        default=None,
        help="the environment the run is in, a message attribute (default: TAGLAKE_ENVIRONMENT, else dev)",
    )
    p.add_argument(
        "--target", default=None, help="the dbt target, a message attribute (default: TAGLAKE_TARGET, else local)"
    )
    p.add_argument(
        "--artifacts",
        type=Path,
        default=None,
        help="the folder holding the run's run_results.json, sources.json, manifest.json (default: dbt's target/)",
    )
    p.add_argument("--leak-hits", type=non_negative_int, default=0, help="the leak scan's hit count, if it found any")
    p.add_argument(
        "--runbook-base-url",
        default=None,
        help="where the runbooks are (default: TAGLAKE_RUNBOOK_BASE_URL, else docs/runbooks/ in the repository)",
    )
    if topic:
        add_aws_options(p)
    p.set_defaults(func=cmd_alerts)


def cmd_alerts(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ops import alert_publish
    from taglake.ops.alerts import (
        DEFAULT_RUNBOOK_BASE,
        RUNBOOK_BASE_ENV,
        RunContext,
        check_date,
        check_run_id,
        check_word,
    )

    context = RunContext(
        run_id=check_run_id(ns.run_id),
        as_of=check_date(ns.as_of),
        environment=check_word(ns.environment or os.environ.get("TAGLAKE_ENVIRONMENT") or "dev", "--environment"),
        target=check_word(ns.target or os.environ.get("TAGLAKE_TARGET") or "local", "--target"),
        runbook_base=ns.runbook_base_url or os.environ.get(RUNBOOK_BASE_ENV) or DEFAULT_RUNBOOK_BASE,
    )
    arn = alert_publish.topic_arn(ns.topic_arn) if ns.verb != "show" else ""
    artifacts = alert_publish.Artifacts(ns.artifacts or project.target_path)
    if ns.verb == "task-failed":
        alerts = alert_publish.task_failed_alerts(
            context,
            artifacts,
            ns.task_id,
            error_class=ns.error_class,
            timed_out=ns.timed_out,
            leak_hits=ns.leak_hits,
        )
    else:
        allow_stale = getattr(ns, "allow_stale", False)
        alerts = alert_publish.run_alerts(context, artifacts, leak_hits=ns.leak_hits, allow_stale=allow_stale)
    if ns.verb == "show":
        for alert in alerts:
            print(json.dumps({"subject": alert.subject, "body": alert.body()}, sort_keys=True))
        return 0
    ids = alert_publish.publish(alerts, arn, region=ns.region, endpoint_url=ns.endpoint_url)
    classes = ", ".join(a.alert_class for a in alerts) or "nothing failed"
    print(f"alerts: {len(ids)} published ({classes})")
    return 0
