"""Alerts: a run's failures to SNS, one message per class, names and counts only (marker `alerts`).

Against moto_server on 127.0.0.1: SNS topic → SQS subscription, messages and attributes read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from artifact_shapes import freshness, manifest, model_node, run_result, run_results, sources, write
from project_copy import run_taglake, scratch_env
from sns_queue import SnsQueue, sns_queue

from taglake.core.project import Project
from taglake.ops.alerts import CLASSES, RUNBOOK_DIR, WITHHELD, runbook_file, safe_name
from taglake.privacy import patterns

pytestmark = pytest.mark.alerts

NATIONAL_ID = "A123456789"
KEY_HEX = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def dbt_test_node(name: str, *, severity: str = "ERROR", alert: str | None = None) -> dict[str, Any]:
    """A generic test node as dbt 1.11 writes it in manifest v12 (only what the schema needs)."""
    meta = {"alert": alert} if alert else {}
    return {
        "unique_id": f"test.taglake.{name}.0a1b2c3d4e",
        "resource_type": "test",
        "name": name,
        "package_name": "taglake",
        "path": f"{name}.sql",
        "original_file_path": "models/marts/_marts__models.yml",
        "fqn": ["taglake", "marts", name],
        "alias": name,
        "schema": "taglake_dbt_test__audit",
        "checksum": {"name": "none", "checksum": ""},
        "config": {"enabled": True, "materialized": "test", "severity": severity, "meta": meta},
        "test_metadata": {"name": "not_null", "kwargs": {}},
        "depends_on": {"macros": [], "nodes": []},
    }


def failed(unique_id: str, status: str = "fail", rows: int = 3, message: str = "", sql: str = "") -> dict[str, Any]:
    result = run_result(unique_id, status)
    result.update({"failures": rows, "message": message or f"Got {rows} results", "compiled_code": sql})
    return result


def artifacts(folder: Path, results: list[dict[str, Any]], tests: list[dict[str, Any]], fresh: list | None = None):
    write(folder / "run_results.json", run_results(*results))
    write(folder / "manifest.json", manifest([*tests, model_node("fct_x", "select 1")]))
    if fresh is not None:
        write(folder / "sources.json", sources(*fresh))
    return folder


def alerts_cli(
    verb: str, folder: Path, queue: SnsQueue | None, *extra: str, run_id: str = "manual__2026-12-01T01:00:00+00:00"
):
    env = scratch_env(folder, **(queue.env() if queue else {}))
    args = ["alerts", verb, "--run-id", run_id, "--as-of", "2026-11-30", "--artifacts", str(folder)]
    args += ["--environment", "prod", "--target", "athena", *extra]
    return run_taglake(args, env)


def bodies(queue: SnsQueue, url: str | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(message body, attributes as name → value) of every notification in the queue."""
    found = []
    for envelope in queue.received(url):
        attributes = {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()}
        found.append((json.loads(envelope["Message"]), attributes | {"subject": envelope.get("Subject", "")}))
    return sorted(found, key=lambda pair: pair[0]["class"])


def test_failing_tests_become_one_message_per_class_with_names_counts_run_and_runbook(tmp_path: Path) -> None:
    tests = [
        dbt_test_node("not_null_fct_x_id"),
        dbt_test_node("assert_quarantine_rate_within_history", alert="quarantine_spike"),
    ]
    folder = artifacts(
        tmp_path,
        [
            failed(tests[0]["unique_id"], rows=4),
            failed(tests[1]["unique_id"], rows=2),
            run_result("model.taglake.fct_x", "success"),
        ],
        tests,
    )
    with sns_queue() as queue:
        result = alerts_cli("publish", folder, queue)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "alerts: 2 published (test_failure, quarantine_spike)"
        got = bodies(queue)
    assert [body["class"] for body, _ in got] == ["quarantine_spike", "test_failure"]
    spike, tests_failed = got[0][0], got[1][0]
    assert tests_failed["failed"] == [
        {"node": "not_null_fct_x_id", "kind": "test", "status": "fail", "failing_rows": 4}
    ]
    assert tests_failed["counts"] == {"checks": 1, "failures": 1, "failing_rows": 4}
    assert spike["failed"][0]["node"] == "assert_quarantine_rate_within_history"
    for body, attributes in got:
        assert body["run_id"] == "manual__2026-12-01T01:00:00+00:00" and body["as_of"] == "2026-11-30"
        assert body["runbook"] == f"docs/runbooks/{runbook_file(body['class'])}"
        assert attributes["class"] == body["class"] and attributes["severity"] == body["severity"] == "high"
        assert attributes["environment"] == "prod" and attributes["target"] == "athena"


def test_nothing_failed_publishes_nothing(tmp_path: Path) -> None:
    tests = [dbt_test_node("not_null_fct_x_id")]
    folder = artifacts(tmp_path, [run_result(tests[0]["unique_id"], "pass")], tests)
    with sns_queue() as queue:
        result = alerts_cli("publish", folder, queue)
        assert result.returncode == 0 and result.stdout.strip() == "alerts: 0 published (nothing failed)"
        assert queue.received() == []


def test_repeated_failures_of_one_check_in_a_run_are_batched_into_one_entry(tmp_path: Path) -> None:
    tests = [dbt_test_node("unique_fct_x_id"), dbt_test_node("not_null_fct_x_id")]
    uid = tests[0]["unique_id"]
    folder = artifacts(
        tmp_path, [failed(uid, rows=2), failed(uid, rows=5), failed(tests[1]["unique_id"], "error")], tests
    )
    with sns_queue() as queue:
        assert alerts_cli("publish", folder, queue).returncode == 0
        got = bodies(queue)
    assert len(got) == 1
    body = got[0][0]
    assert body["failed"][1] == {
        "node": "unique_fct_x_id",
        "kind": "test",
        "status": "fail",
        "failing_rows": 7,
        "occurrences": 2,
    }
    assert body["counts"] == {"checks": 2, "failures": 3, "failing_rows": 10}


def test_a_subscription_filter_policy_on_class_gets_only_that_class(tmp_path: Path) -> None:
    tests = [dbt_test_node("not_null_fct_x_id")]
    fresh = [freshness("source.taglake.crm.customers", "error", "2026-11-01T00:00:00+00:00", 86_400 * 30)]
    folder = artifacts(tmp_path, [failed(tests[0]["unique_id"])], tests, fresh)
    with sns_queue() as queue:
        leaks_only = queue.subscribe_queue("leaks-only", {"class": ["leak_detected"]})
        critical = queue.subscribe_queue("critical-only", {"severity": ["critical"], "environment": ["prod"]})
        assert alerts_cli("publish", folder, queue, "--leak-hits", "3").returncode == 0
        everything = bodies(queue)
        leaks, crit = bodies(queue, leaks_only), bodies(queue, critical)
    assert [b["class"] for b, _ in everything] == ["freshness_breach", "leak_detected", "test_failure"]
    assert [b["class"] for b, _ in leaks] == ["leak_detected"] and leaks[0][0]["counts"]["failing_rows"] == 3
    assert [b["class"] for b, _ in crit] == ["leak_detected"]
    stale = next(b for b, _ in everything if b["class"] == "freshness_breach")
    assert stale["failed"] == [{"node": "crm.customers", "kind": "source", "status": "stale"}]


@pytest.mark.redteam
def test_no_message_carries_personal_data_or_key_material_planted_anywhere(tmp_path: Path) -> None:
    spellings = [NATIONAL_ID, NATIONAL_ID.lower(), "Ａ１２３４５６７８９", "a_123_456_789"]
    tests = [dbt_test_node(f"assert_{s}_ok") for s in ("a123456789", "a_123_456_789")]
    tests += [dbt_test_node(f"assert_key_{KEY_HEX[:40]}"), dbt_test_node("not_null_fct_x_id")]
    hostile = f"customer {NATIONAL_ID} key {KEY_HEX} mobile 0912-345-678 e-mail wang@example.com"
    results = [
        failed(t["unique_id"], "error", message=hostile, sql=f"select '{NATIONAL_ID}', '{KEY_HEX}'") for t in tests
    ]
    results.append({**run_result("model.taglake.fct_x", "error"), "message": hostile, "compiled_code": hostile})
    folder = artifacts(tmp_path, results, tests)
    with sns_queue() as queue:
        published = alerts_cli("publish", folder, queue)
        failed_task = alerts_cli("task-failed", folder, queue, "--task-id", "dbt_build.dbt_producer_watcher")
        assert published.returncode == 0 and failed_task.returncode == 0, published.stderr + failed_task.stderr
        envelopes = queue.received()
    assert len(envelopes) == 4  # test_failure and run_failed, twice
    text = json.dumps(envelopes, ensure_ascii=False)
    assert not patterns.matches(text) and KEY_HEX[:16] not in text and "wang" not in text
    assert all(s not in text for s in spellings)
    names = [f["node"] for e in envelopes for f in json.loads(e["Message"])["failed"]]
    assert names.count(WITHHELD) == 6 and "not_null_fct_x_id" in names and "fct_x" in names


@pytest.mark.redteam
@pytest.mark.parametrize(
    "name",
    [
        "assert_a123456789",
        "assert_Ａ123456789",
        "x_0912345678",
        "x_09_12_34_56_78",
        "k_" + KEY_HEX[:20],
        "wang@x.com",
        "x_台北市信義區信義路五段7號",
        "has space",
        "a" * 300,
    ],
)
def test_a_name_with_a_value_shape_is_withheld(name: str) -> None:
    assert safe_name(name) == WITHHELD


def test_plain_dbt_names_are_shown() -> None:
    for name in ("column_values_stg_crm__customers", "crm.customers", "assert_tag_catalog_matches_producers"):
        assert safe_name(name) == name


@pytest.mark.redteam
def test_a_run_id_holding_a_value_is_refused_in_one_line_without_it(tmp_path: Path) -> None:
    folder = artifacts(tmp_path, [], [])
    result = alerts_cli("show", folder, None, run_id=f"manual {NATIONAL_ID}")
    assert result.returncode == 2 and NATIONAL_ID not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and "--run-id" in result.stderr


def test_publish_without_a_topic_is_refused_naming_the_setting(tmp_path: Path) -> None:
    folder = artifacts(tmp_path, [], [])
    env = {k: v for k, v in scratch_env(tmp_path).items() if k != "TAGLAKE_ALERT_TOPIC_ARN"}
    args = ["alerts", "publish", "--run-id", "r1", "--as-of", "2026-11-30", "--artifacts", str(folder)]
    result = run_taglake(args, env)
    assert result.returncode == 2 and "TAGLAKE_ALERT_TOPIC_ARN" in result.stderr


@pytest.mark.parametrize(
    ("task_id", "extra", "expected_class", "reason"),
    [
        (
            "wait_for_landing",
            ["--error-class", "AirflowSensorTimeout"],
            "freshness_breach",
            "the day's landing did not arrive in time",
        ),
        ("leak_scan", [], "leak_detected", "the leak scan found clear values or key material in the build"),
        ("update_catalog", ["--error-class", "AirflowTaskTimeout"], "run_failed", "timed out"),
        ("dbt_build.dbt_producer_watcher", ["--timed-out"], "run_failed", "timed out"),
        ("metrics", [], "run_failed", "task failed"),
        (
            "dbt_build.dbt_producer_watcher",
            ["--error-class", "KeyFileError"],
            "key_problem",
            "masking key check failed",
        ),
    ],
)
def test_a_failed_task_is_one_message_of_its_class(
    tmp_path: Path, task_id: str, extra: list[str], expected_class: str, reason: str
) -> None:
    folder = artifacts(tmp_path, [], [])
    with sns_queue() as queue:
        result = alerts_cli("task-failed", folder, queue, "--task-id", task_id, *extra)
        assert result.returncode == 0, result.stderr
        got = bodies(queue)
    assert [(b["class"], b.get("reason")) for b, _ in got] == [(expected_class, reason)]


def test_a_failed_dbt_build_is_alerted_by_what_run_results_say(tmp_path: Path) -> None:
    tests = [dbt_test_node("not_null_fct_x_id")]
    folder = artifacts(tmp_path, [failed(tests[0]["unique_id"], rows=9)], tests)
    with sns_queue() as queue:
        assert alerts_cli("task-failed", folder, queue, "--task-id", "dbt_build.dbt_producer_watcher").returncode == 0
        got = bodies(queue)
    assert len(got) == 1 and got[0][0]["class"] == "test_failure"
    assert got[0][0]["failed"] == [{"node": "not_null_fct_x_id", "kind": "test", "status": "fail", "failing_rows": 9}]


def test_every_class_has_a_runbook_that_exists_with_its_four_parts() -> None:
    root = Project.locate().root
    for alert_class in CLASSES:
        path = root / RUNBOOK_DIR / runbook_file(alert_class)
        assert path.is_file(), path
        text = path.read_text(encoding="utf-8")
        for part in ("What it means", "How to look", "How to fix", "How to rerun"):
            assert f"**{part}.**" in text, (path, part)
        assert alert_class in text


def test_the_runbook_link_follows_the_configured_base(tmp_path: Path) -> None:
    tests = [dbt_test_node("not_null_fct_x_id")]
    folder = artifacts(tmp_path, [failed(tests[0]["unique_id"])], tests)
    base = "https://git.bank.example/data/taglake/-/blob/main/docs/runbooks"
    result = alerts_cli("show", folder, None, "--runbook-base-url", base)
    assert result.returncode == 0
    assert json.loads(result.stdout)["body"]["runbook"] == f"{base}/test-failure.md"


def test_a_run_allowed_past_stale_sources_is_not_alerted_for_them_but_a_failed_check_is(tmp_path: Path) -> None:
    fresh = [
        freshness("source.taglake.crm.customers", "error", "2026-11-01T00:00:00+00:00", 86_400 * 30),
        {"unique_id": "source.taglake.cards.transactions", "status": "runtime error", "error": "query failed"},
    ]
    folder = artifacts(tmp_path, [], [], fresh)
    with sns_queue() as queue:
        assert alerts_cli("publish", folder, queue, "--allow-stale").returncode == 0
        allowed = bodies(queue)
        assert alerts_cli("publish", folder, queue).returncode == 0
        strict = bodies(queue)
    assert [f["node"] for f in allowed[0][0]["failed"]] == ["cards.transactions"]
    assert [f["node"] for f in strict[0][0]["failed"]] == ["cards.transactions", "crm.customers"]
