"""Alerts to SNS: one message per class, JSON body, message attributes for subscription filter policies.

Builds the alerts from dbt's artifacts (taglake.ops.alerts) and publishes them to one topic
(`--topic-arn` or TAGLAKE_ALERT_TOPIC_ARN). boto3 honours AWS_ENDPOINT_URL (tests: moto_server on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core.artifacts import read_manifest, run_results_if_written, sources_if_written
from taglake.core.errors import Refused
from taglake.ops.alerts import (
    Alert,
    Failure,
    RunContext,
    alert_meta,
    batch,
    freshness_failures,
    leak_failures,
    run_result_failures,
    task_failures,
)

TOPIC_ENV = "TAGLAKE_ALERT_TOPIC_ARN"


@dataclass(frozen=True)
class Artifacts:
    """Where a run's dbt artifacts are: run_results.json, sources.json and manifest.json in one target/ folder."""

    target_path: Path

    def run_results(self) -> Any:
        return run_results_if_written(self.target_path / "run_results.json")

    def sources(self) -> Any:
        return sources_if_written(self.target_path / "sources.json")

    def meta(self) -> dict[str, tuple[str, str]]:
        path = self.target_path / "manifest.json"
        return alert_meta(read_manifest(path)) if path.is_file() else {}


def run_alerts(
    context: RunContext, artifacts: Artifacts, *, leak_hits: int = 0, allow_stale: bool = False
) -> list[Alert]:
    """The end of a run: every failure its build, freshness and leak scan left, one Alert per class (stale sources
    not, when the run was allowed to go on past them)."""
    failures: list[Failure] = []
    failures += run_result_failures(artifacts.run_results(), artifacts.meta())
    failures += freshness_failures(artifacts.sources(), allow_stale=allow_stale)
    failures += leak_failures(leak_hits)
    return batch(failures, context)


def task_failed_alerts(
    context: RunContext,
    artifacts: Artifacts,
    task_id: str,
    *,
    error_class: str = "",
    timed_out: bool = False,
    leak_hits: int = 0,
) -> list[Alert]:
    """The DAG's on-failure callback: the failed task mapped to its class (taglake.ops.alerts.task_failures)."""
    needs_results = task_id.startswith("dbt_build")
    failures, reasons = task_failures(
        task_id,
        error_class=error_class,
        timed_out=timed_out,
        run_results=artifacts.run_results() if needs_results else None,
        sources=artifacts.sources() if task_id == "source_freshness" else None,
        meta=artifacts.meta() if needs_results else None,
        leak_hits=leak_hits,
    )
    return batch(failures, context, reasons)


def topic_arn(given: str | None) -> str:
    arn = given or os.environ.get(TOPIC_ENV, "")
    if not arn.startswith("arn:aws:sns:") or len(arn) > 256:
        raise Refused(f"--topic-arn: an SNS topic ARN (arn:aws:sns:…), or set {TOPIC_ENV}")
    return arn


def publish(
    alerts: Sequence[Alert], arn: str, *, region: str | None = None, endpoint_url: str | None = None
) -> list[str]:
    """Publish each alert to the topic; the SNS message ids."""
    import boto3

    region = region or os.environ.get("TAGLAKE_AWS_REGION") or arn.split(":")[3]
    client = boto3.client("sns", region_name=region, endpoint_url=endpoint_url)
    ids = []
    for alert in alerts:
        response = client.publish(
            TopicArn=arn,
            Subject=alert.subject,
            Message=json.dumps(alert.body(), ensure_ascii=True, sort_keys=True),
            MessageAttributes=alert.attributes(),
        )
        ids.append(str(response["MessageId"]))
    return ids
