"""schemathesis, in-process over the tag retrieval API's OpenAPI document (test_tag_retrieval_openapi.py checks
it is current) against the Lambda handler (through the WSGI app `taglake serve api` serves, the
DynamoDB cache on moto behind it), finds no 5xx, no answer the document does not describe, and no answer that
repeats what was sent unless it is a known customer's token. Bounded and seeded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from moto import mock_aws
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from taglake.serve.app import Retriever, make_handler
from taglake.serve.local import wsgi_app
from taglake.serve.openapi import openapi_document
from taglake.serve.store import CustomerTags, DynamoTagStore, TagHeld, create_cache_table, is_token, refresh_cache

pytestmark = pytest.mark.retrieval
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
TABLE = "taglake-fuzz-tag-cache"
# Every word the API's messages are made of (taglake.serve.app): a fuzzed value made of one of them is not an echo.
VOCABULARY = (
    "body customer_tokens: 1 to 100 customer tokens; more than 100 tokens; split the batch; path customer_token: a "
    "customer token (64 lowercase hex digits); clear identifiers are never accepted; malformed request at body, path, "
    'query, header: send {"customer_tokens": [...]} (docs/retrieval.md); no customer has this token (the tags are as '
    "of the last daily run); no such route: GET /customers/{customer_token}/tags or POST /customers/tags/batch; "
    "x-api-key: a valid API key is required; internal error; retry"
)
KNOWN = [hashlib.sha256(f"fuzz-customer-{n}".encode()).hexdigest() for n in range(5)]  # token-shaped, synthetic


@pytest.fixture(scope="module")
def app() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            mp.setenv(name, "testing")
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        with mock_aws():
            client = boto3.client("dynamodb", region_name="ap-northeast-1")
            create_cache_table(client, TABLE)
            tag = TagHeld("CARD_HEAVY_SPENDER", "card", "Heavy spender", "高消費客群", "Y", None)
            customers = [CustomerTags(t, date(2026, 11, 30), (tag,) if n % 2 else ()) for n, t in enumerate(KNOWN)]
            refresh_cache(sorted(customers, key=lambda c: c.customer_token), client, TABLE)
            handler = make_handler(Retriever(store=DynamoTagStore(client, TABLE)))
            yield wsgi_app(handler, openapi_document())


def _sent(case: Any) -> list[str]:
    """The strings the request carried: its path value and every string in its body."""
    found = [str(v) for v in (case.path_parameters or {}).values()]

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for v in value.values():  # the keys are the schema's own field names, which messages name
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    body = case.body
    walk(body.decode("utf-8", "replace") if isinstance(body, bytes) else body)
    return found


@pytest.mark.fuzz
def test_schemathesis_finds_no_server_error_no_undocumented_answer_and_no_echo(app: Any) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    single = schema["/customers/{customer_token}/tags"]["GET"]
    batch = schema["/customers/tags/batch"]["POST"]
    # Some cases aim at a known customer, so the 200 answers are fuzzed too, not only the refusals.
    aim = st.sampled_from([None, None, KNOWN[0], KNOWN[1], "A" * 64, "Ａ12345678９", "+886 912 345 678"])
    statuses: set[int] = set()

    @seed(20261202)
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(single.as_strategy(), batch.as_strategy()), token=aim)
    def run(case: Any, token: str | None) -> None:
        if token is not None:
            if case.method == "GET":
                case.path_parameters = {"customer_token": token}
            else:
                case.body = {"customer_tokens": [token, KNOWN[2]]}
        response = case.call_and_validate(headers={"x-api-key": "fuzz"}, checks=CHECKS)
        statuses.add(response.status_code)
        text = response.text
        answer = json.loads(text) if text else {}
        served = set(KNOWN) if response.status_code == 200 else set()
        message = str(answer.get("message", "")) if isinstance(answer, dict) else ""
        for value in _sent(case):
            if value in served or (is_token(value) and response.status_code == 200):
                continue  # a known customer's token is the answer's own key; an unknown one is listed as not found
            # a value of the API's own words (a fuzzed "tokens") is no echo: longer ones must not come back
            if len(value) >= 4 and value not in VOCABULARY:
                assert value not in text, (response.status_code, message)

    run()
    assert {200, 400} <= statuses, statuses
