"""The tag retrieval API's OpenAPI document is generated from the code, checked in current, and names every answer
the API gives (the fuzz run over it: test_tag_retrieval_openapi_fuzz.py)."""

from __future__ import annotations

import pytest

from taglake import cli
from taglake.serve.openapi import default_openapi_path, openapi_document, render

pytestmark = pytest.mark.retrieval


def test_the_checked_in_openapi_document_is_what_the_code_generates() -> None:
    assert default_openapi_path().read_text(encoding="utf-8") == render(openapi_document())
    assert cli.main(["serve", "openapi", "--check"]) == 0


def test_the_openapi_document_names_every_answer_and_no_unsent_422() -> None:
    paths = openapi_document()["paths"]
    assert set(paths["/customers/{customer_token}/tags"]["get"]["responses"]) == {"200", "400", "403", "404"}
    assert set(paths["/customers/tags/batch"]["post"]["responses"]) == {"200", "400", "403", "413"}
    assert all(op["security"] == [{"apiKey": []}] for ops in paths.values() for op in ops.values())
