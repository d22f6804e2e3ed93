"""Hostile requests to the ingestion Lambda: personal data planted in rejected records, in field names, in the
path, in headers and in broken JSON never comes back in an answer, and never reaches a log line or a metric
(Powertools prints both to stdout: structured logs and the EMF metrics document)."""

from __future__ import annotations

import io
import json
import logging
import unicodedata
import uuid

import pytest
from aws_lambda_powertools import Logger
from ingest_harness import ingest_harness
from ingest_records import app_event, national_id

pytestmark = [pytest.mark.api, pytest.mark.redteam]

PLANTED_ID = national_id("K", "24681357")
PLANTED_MOBILE = "0987654321"
PLANTED_EMAIL = "victim.person@bank-customer.example"
FULLWIDTH_ID = unicodedata.normalize("NFKC", PLANTED_ID).translate(
    {ord(c): ord(c) + 0xFEE0 for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
)


def _spellings() -> list[str]:
    """Each planted value as written, case-folded, and without separators."""
    found = []
    for value in (PLANTED_ID, PLANTED_MOBILE, PLANTED_EMAIL):
        found += [value, value.casefold(), value.replace("-", "")]
    found += [PLANTED_ID[1:], PLANTED_MOBILE[2:], "victim.person"]
    return found


def _hostile_requests() -> list[tuple[str, bytes, dict[str, str]]]:
    events = "/ingest/digital/app_events"
    rejected = [
        app_event(event_type=PLANTED_ID),  # a national ID where a code goes
        app_event(event_at=PLANTED_MOBILE),  # a mobile where a timestamp goes
        app_event(product_code=PLANTED_EMAIL),
        app_event(event_id=f"{PLANTED_ID}-0000-0000-0000-000000000000"),
        app_event(national_id=FULLWIDTH_ID),  # full-width: not an ID staging accepts
        app_event(national_id=PLANTED_ID[:-1] + str((int(PLANTED_ID[-1]) + 1) % 10)),  # checksum off by one
        {**app_event(), PLANTED_ID: PLANTED_MOBILE},  # an undeclared field named by a national ID
        app_event(device={"os": "ios", PLANTED_EMAIL: "x"}),
        app_event(device={"os": PLANTED_MOBILE}),
        PLANTED_EMAIL,  # a record that is not an object
        [PLANTED_ID],
    ]
    body = json.dumps(rejected, ensure_ascii=False).encode()
    return [
        (events, body, {}),
        (events, ('{"national_id": "' + PLANTED_ID + '", ').encode(), {}),  # cut short: not JSON
        (events, json.dumps({"records": PLANTED_EMAIL}).encode(), {"x-request-id": PLANTED_ID}),
        (events, json.dumps([app_event()]).encode(), {"x-taglake-schema-version": PLANTED_MOBILE}),
        (f"/ingest/{PLANTED_ID}/app_events", body, {}),
        (f"/ingest/digital/{PLANTED_EMAIL}", body, {}),
        (events, json.dumps([{"event_type": PLANTED_ID}] * 501).encode(), {}),
    ]


def test_planted_personal_data_never_leaves_in_answers_logs_or_metrics(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = []
    # Powertools keeps one handler per service name, bound to the stream of its first use: a logger of its own here.
    log_lines = io.StringIO()
    logger = Logger(service=f"taglake-ingest-redteam-{uuid.uuid4().hex}", stream=log_lines)
    with ingest_harness(logger=logger) as api:
        for path, raw, headers in _hostile_requests():
            request_id = headers.pop("x-request-id", str(uuid.uuid4()))
            status, answer = api.post(path, None, raw=raw, headers=headers, request_id=request_id)
            assert 400 <= status < 500 or status == 207, (path, status)
            answers.append(json.dumps(answer, ensure_ascii=False))
        landed = [api.read(k) for k in api.keys()]  # noqa: SIM118
    printed = capsys.readouterr()
    outputs = {
        "answers": "\n".join(answers),
        "powertools log": log_lines.getvalue(),
        "stdout (EMF metrics)": printed.out,
        "stderr": printed.err,
        "captured log": caplog.text,
    }
    assert '"batch checked"' in log_lines.getvalue() and '"RecordsRejected"' in printed.out  # both were seen
    for where, text in outputs.items():
        folded = unicodedata.normalize("NFKC", text).casefold()
        for value in _spellings():
            assert value not in text and value.casefold() not in folded, (where, "a planted value came back")
    # The one batch with accepted records landed only them: no rejected record's value is in the raw zone either.
    assert len(landed) == 0 or all(PLANTED_ID.encode() not in body for body in landed)


def test_a_rejected_record_is_answered_by_field_and_rule_only() -> None:
    with ingest_harness() as api:
        status, answer = api.post("/ingest/digital/app_events", [{**app_event(), PLANTED_ID: 1}])
    assert status == 207
    assert answer["rejected"] == [
        {"index": 0, "reasons": ["the record holds a field the schema does not declare (its name is not repeated)"]}
    ]
