"""The ingestion API's OpenAPI document is generated from the code, checked in current, and names every answer the
API gives (the fuzz run over it: test_ingest_openapi_fuzz.py)."""

from __future__ import annotations

import pytest

from taglake import cli
from taglake.ingest.openapi import default_openapi_path, openapi_document, render


@pytest.mark.api
def test_the_checked_in_openapi_document_is_what_the_code_generates() -> None:
    assert default_openapi_path().read_text(encoding="utf-8") == render(openapi_document())
    assert cli.main(["api", "openapi", "--check"]) == 0


@pytest.mark.api
def test_the_openapi_document_names_every_answer_the_api_gives() -> None:
    operation = openapi_document()["paths"]["/ingest/{source}/{table}"]["post"]
    # Exactly the answers the API gives: a request failing validation is a 400, never Powertools' default 422.
    assert set(operation["responses"]) == {"200", "207", "400", "403", "404", "409", "413"}
    assert operation["security"] == [{"apiKey": []}]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"source", "table", "x-request-id", "x-taglake-schema-version"}
