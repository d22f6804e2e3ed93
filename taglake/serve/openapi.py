"""The tag retrieval API's OpenAPI document, generated from the code (Powertools reads the routes, their parameters,
models and declared responses) and checked in as taglake/serve/openapi.json; `taglake serve openapi --check` (and a
test) fails when the checked-in copy is not what the code generates. `taglake serve api` serves the same document at
/openapi.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from taglake import __version__
from taglake.core import lambda_local
from taglake.core.lambda_local import without_unsent_422

TITLE = "taglake tag retrieval API"


def default_openapi_path() -> Path:
    return Path(__file__).resolve().parent / "openapi.json"


class _NoStore:
    """The resolver only needs a store to exist to describe itself: nothing is read."""

    def customer_tags(self, tokens: Any) -> dict[str, Any]:
        return {}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the API, as the code declares it."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    from taglake.serve.app import Retriever, build_resolver

    text = build_resolver(Retriever(store=_NoStore())).get_openapi_json_schema(
        title=TITLE,
        version=__version__,
        description="A customer's current tags, by customer token (docs/retrieval.md).",
        security_schemes={"apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
    )
    return without_unsent_422(json.loads(text))


def render(document: dict[str, Any]) -> str:
    return lambda_local.render_openapi(document)


def write_openapi(path: Path | None = None) -> Path:
    return lambda_local.write_openapi(path or default_openapi_path(), openapi_document())


def openapi_is_current(path: Path | None = None) -> bool:
    return lambda_local.openapi_is_current(path or default_openapi_path(), openapi_document())
