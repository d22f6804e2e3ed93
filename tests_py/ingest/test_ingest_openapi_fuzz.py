"""schemathesis, in-process over the ingestion API's OpenAPI document (test_ingest_openapi.py checks it is
current), against the Lambda handler (through the same WSGI adapter `taglake api serve` uses, moto behind it),
finds no 5xx and no answer the document does not describe. Bounded and seeded: a fixed number of examples."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from ingest_harness import API_KEY, Harness, ingest_harness
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[tuple[Harness, Any]]:
    with ingest_harness() as api:
        schema = schemathesis.openapi.from_wsgi("/openapi.json", api.app)
        yield api, schema


@pytest.mark.fuzz
def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_document(fuzzed: tuple[Harness, Any]) -> None:
    _api, schema = fuzzed
    operation = schema["/ingest/{source}/{table}"]["POST"]
    # Half the cases aim at a real table, so the records themselves are fuzzed too, not only the 404 path.
    tables = st.sampled_from([None, ("digital", "app_events"), ("crm", "customers"), ("core_banking", "accounts")])

    @seed(20261202)
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), table=tables)
    def run(case: Any, table: tuple[str, str] | None) -> None:
        if table is not None:
            case.path_parameters = {"source": table[0], "table": table[1]}
        response = case.call_and_validate(headers={"x-api-key": API_KEY}, checks=CHECKS)
        statuses.add(response.status_code)

    statuses: set[int] = set()
    run()
    # The run reached past the gates: bad requests, unknown tables and checked records all answered.
    assert {400, 404} <= statuses and statuses & {200, 207}, statuses
