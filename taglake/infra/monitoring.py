"""infra/stacks/monitoring.yaml: CloudWatch alarms and a dashboard over what `taglake metrics put` publishes
(namespace, metric names and dimensions read from taglake.ops.metrics), the ingestion API's health, and the AWS
Budget; every alarm and budget notification goes to the alert topic (SNS, KMS-encrypted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from taglake.core.sources import catalog_tables
from taglake.infra import names
from taglake.infra.template import logical_id, template
from taglake.ops import metrics

# Dimensions every run metric carries (taglake.ops.metrics.build_metrics: Environment, Target; per source: Source).
BASE_DIMENSIONS = ("Environment", "Target")
DAY = 86400


def _dimensions(source: str | None = None) -> list[dict[str, Any]]:
    dims: list[dict[str, Any]] = [
        {"Name": "Environment", "Value": {"Ref": "Environment"}},
        {"Name": "Target", "Value": {"Ref": "Target"}},
    ]
    if source:
        dims.append({"Name": "Source", "Value": source})
    return dims


def _alarm(
    name: str,
    description: str,
    metric: str,
    statistic: str,
    comparison: str,
    threshold: Any,
    *,
    source: str | None = None,
    missing: str = "notBreaching",
    period: int = DAY,
    namespace: Any = None,
    dimensions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    if metric not in metrics.METRICS and namespace is None:
        raise ValueError(f"{metric} is not a metric of taglake.ops.metrics")
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": {"Fn::Sub": "taglake-${Environment}-" + name},
            "AlarmDescription": description,
            "Namespace": namespace or metrics.NAMESPACE,
            "MetricName": metric,
            "Dimensions": dimensions if dimensions is not None else _dimensions(source),
            "Statistic": statistic,
            "Period": period,
            "EvaluationPeriods": 1,
            "ComparisonOperator": comparison,
            "Threshold": threshold,
            "TreatMissingData": missing,
            "AlarmActions": [names.export("AlertTopicArn")],
            "OKActions": [names.export("AlertTopicArn")],
        },
    }


def _dashboard(sources: list[str]) -> dict[str, Any]:
    def widget(title: str, metric_rows: list[list[Any]], y: int, x: int = 0) -> dict[str, Any]:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": 12,
            "height": 6,
            "properties": {
                "title": title,
                "region": "${AWS::Region}",
                "stat": "Maximum",
                "period": DAY,
                "metrics": metric_rows,
            },
        }

    base = [metrics.NAMESPACE]
    dims = ["Environment", "${Environment}", "Target", "${Target}"]
    widgets = [
        widget("Models and tests failed", [[*base, "ModelsFailed", *dims], [*base, "TestsFailed", *dims]], 0),
        widget("Run duration (s)", [[*base, "RunDurationSeconds", *dims]], 0, 12),
        widget("Bytes scanned", [[*base, "BytesScanned", *dims]], 6),
        widget(
            "Freshness lag (s) per source", [[*base, "FreshnessLagSeconds", *dims, "Source", s] for s in sources], 6, 12
        ),
        widget(
            "Rows quarantined per source",
            [
                [
                    {
                        "expression": f"SEARCH('{{{metrics.NAMESPACE},Environment,Target,Source}} "
                        f'MetricName="RowsQuarantined" Environment="${{Environment}}"\', \'Maximum\', {DAY})',
                        "id": "q",
                        "label": "",
                    }
                ]
            ],
            12,
        ),
        widget(
            "Ingestion API",
            [
                ["AWS/ApiGateway", "4XXError", "ApiName", "taglake-${Environment}-ingest"],
                ["AWS/ApiGateway", "5XXError", "ApiName", "taglake-${Environment}-ingest"],
                ["AWS/Lambda", "Errors", "FunctionName", "taglake-${Environment}-ingest"],
            ],
            12,
            12,
        ),
    ]
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {
            "DashboardName": {"Fn::Sub": "taglake-${Environment}"},
            "DashboardBody": {"Fn::Sub": json.dumps({"widgets": widgets}, separators=(",", ":"))},
        },
    }


def render_monitoring(project_dir: Path | None = None) -> dict:
    sources = sorted(t.name for t in catalog_tables(project_dir).values() if not t.restricted)
    resources: dict[str, Any] = {
        "ModelsFailedAlarm": _alarm(
            "models-failed",
            "A daily run left models (seeds, snapshots) in error.",
            "ModelsFailed",
            "Maximum",
            "GreaterThanThreshold",
            0,
        ),
        "TestsFailedAlarm": _alarm(
            "tests-failed",
            "A daily run's data tests failed or errored.",
            "TestsFailed",
            "Maximum",
            "GreaterThanThreshold",
            0,
        ),
        "RunMissingAlarm": _alarm(
            "run-missing",
            "No daily run reported its duration for a day: the run did not end.",
            "RunDurationSeconds",
            "SampleCount",
            "LessThanThreshold",
            1,
            missing="breaching",
        ),
        "RunDurationAlarm": _alarm(
            "run-slow",
            "A daily run took longer than MaxRunSeconds.",
            "RunDurationSeconds",
            "Maximum",
            "GreaterThanThreshold",
            {"Ref": "MaxRunSeconds"},
        ),
        "BytesScannedAlarm": _alarm(
            "bytes-scanned",
            "A daily run scanned more than MaxBytesScanned on Athena.",
            "BytesScanned",
            "Maximum",
            "GreaterThanThreshold",
            {"Ref": "MaxBytesScanned"},
        ),
        "IngestServerErrorsAlarm": _alarm(
            "ingest-5xx",
            "The ingestion API answered 5xx (bad input must never cause one).",
            "5XXError",
            "Sum",
            "GreaterThanThreshold",
            0,
            period=300,
            namespace="AWS/ApiGateway",
            dimensions=[{"Name": "ApiName", "Value": {"Fn::Sub": "taglake-${Environment}-ingest"}}],
        ),
        "IngestLambdaErrorsAlarm": _alarm(
            "ingest-errors",
            "The ingestion Lambda raised errors.",
            "Errors",
            "Sum",
            "GreaterThanThreshold",
            0,
            period=300,
            namespace="AWS/Lambda",
            dimensions=[{"Name": "FunctionName", "Value": {"Fn::Sub": "taglake-${Environment}-ingest"}}],
        ),
    }
    for source in sources:
        resources[logical_id("freshness", source, "alarm")] = _alarm(
            f"freshness-{source.replace('.', '-').replace('_', '-')}",
            f"The newest landing of {source} is older than MaxFreshnessLagSeconds.",
            "FreshnessLagSeconds",
            "Maximum",
            "GreaterThanThreshold",
            {"Ref": "MaxFreshnessLagSeconds"},
            source=source,
        )
    resources["Dashboard"] = _dashboard(sources)
    resources["Budget"] = {
        "Type": "AWS::Budgets::Budget",
        "Properties": {
            "Budget": {
                "BudgetName": {"Fn::Sub": "taglake-${Environment}-monthly"},
                "BudgetType": "COST",
                "TimeUnit": "MONTHLY",
                "BudgetLimit": {"Amount": {"Ref": "MonthlyBudgetUsd"}, "Unit": "USD"},
                "CostFilters": {"TagKeyValue": [{"Fn::Sub": "user:taglake:environment$${Environment}"}]},
            },
            "NotificationsWithSubscribers": [
                {
                    "Notification": {
                        "NotificationType": kind,
                        "ComparisonOperator": "GREATER_THAN",
                        "Threshold": threshold,
                        "ThresholdType": "PERCENTAGE",
                    },
                    "Subscribers": [
                        {"SubscriptionType": "SNS", "Address": names.export("AlertTopicArn")},
                        {"SubscriptionType": "EMAIL", "Address": {"Ref": "BudgetEmail"}},
                    ],
                }
                for kind, threshold in (("ACTUAL", 80), ("ACTUAL", 100), ("FORECASTED", 100))
            ],
        },
    }
    parameters = {
        "Environment": names.ENVIRONMENT_PARAMETER,
        "Target": {
            "Type": "String",
            "Default": "athena",
            "AllowedValues": ["athena", "redshift"],
            "Description": "The dbt target the daily run builds (the metrics' Target dimension)",
        },
        "MaxRunSeconds": {"Type": "Number", "Default": 7200, "Description": "Alarm when a run takes longer"},
        "MaxBytesScanned": {
            "Type": "Number",
            "Default": 536870912000,
            "Description": "Alarm when a run scans more on Athena (bytes)",
        },
        "MaxFreshnessLagSeconds": {
            "Type": "Number",
            "Default": 172800,
            "Description": "Alarm when a source's newest landing is older (seconds)",
        },
        "MonthlyBudgetUsd": {"Type": "Number", "Default": 1000, "Description": "The monthly cost budget (USD)"},
        "BudgetEmail": {
            "Type": "String",
            "AllowedPattern": "^[^@\\s]+@[^@\\s]+$",
            "Description": "Who else hears of the budget (besides the alert topic)",
        },
    }
    return template(
        "taglake monitoring: alarms and a dashboard over `taglake metrics put`, the ingestion API, "
        "and the monthly budget",
        parameters,
        resources,
    )
