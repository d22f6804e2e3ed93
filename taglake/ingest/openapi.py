"""The ingestion API's OpenAPI document, generated from the code (Powertools reads the route, its parameters and
its declared responses) and checked in as taglake/ingest/openapi.json; `taglake api openapi --check` (and a test)
fails when the checked-in copy is not what the code generates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from taglake import __version__
from taglake.core import lambda_local
from taglake.core.lambda_local import without_unsent_422

TITLE = "taglake ingestion API"


def default_openapi_path() -> Path:
    return Path(__file__).resolve().parent / "openapi.json"


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the API, as the code declares it."""
    import boto3
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from taglake.ingest.app import Ingestor, build_resolver
    from taglake.ingest.raw_zone import LocalRawZone

    # Nothing is called: the resolver only needs its parts to exist to describe itself.
    client = boto3.client("dynamodb", region_name="ap-northeast-1")
    ingestor = Ingestor(
        raw_zone=LocalRawZone(Path("unused")),
        persistence=DynamoDBPersistenceLayer(table_name="unused", boto3_client=client),
    )
    app = build_resolver(ingestor)
    text = app.get_openapi_json_schema(
        title=TITLE,
        version=__version__,
        description="Source systems push records into the raw zone (docs/ingestion.md). "
        "Record schemas: taglake/ingest/json-schemas/ (the schema registry).",
        security_schemes={"apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
    )
    return without_unsent_422(json.loads(text))


def render(document: dict[str, Any]) -> str:
    return lambda_local.render_openapi(document)


def write_openapi(path: Path | None = None) -> Path:
    return lambda_local.write_openapi(path or default_openapi_path(), openapi_document())


def openapi_is_current(path: Path | None = None) -> bool:
    return lambda_local.openapi_is_current(path or default_openapi_path(), openapi_document())
