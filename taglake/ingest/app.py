"""The ingestion Lambda: `POST /ingest/{source}/{table}` behind API Gateway (REST, API key required).

`handler(event, context)` is what the Lambda runs (the CloudFormation stack names `taglake.ingest.app.handler`). It
reads its configuration from the environment (`IngestConfig.from_env`): TAGLAKE_RAW_BUCKET, TAGLAKE_RAW_PREFIX,
TAGLAKE_IDEMPOTENCY_TABLE, and Powertools' POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE.

A request carries one record (a JSON object) or a batch (a JSON array of at most MAX_RECORDS records, at most
MAX_BODY_BYTES in all), and a client request ID (`x-request-id`, a UUID). Each record is checked against the
table's live registry schema (`x-taglake-schema-version`, default the newest live one) the way staging checks it
(taglake.ingest.validate); the accepted records land in the raw zone as one new file (taglake.ingest.raw_zone).
Answers: 200 all accepted, 207 some (or all) rejected with each rejected record's index and reasons, 400 malformed
request, 403 no valid API key, 404 no such table or version, 409 the request ID reused with another body or still
in progress, 413 over the limits. A retried request (same ID, same body) gets the first answer again and writes
nothing (Powertools idempotency on DynamoDB). Nothing a client sent is ever repeated in an answer, a log line, a
metric or a trace, except the request ID (a UUID, checked) and the declared names of fields.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from pydantic import BaseModel, Field

from taglake.core.lambda_local import has_api_key, proxy_answer, quiet_library_loggers
from taglake.ingest import registry
from taglake.ingest.raw_zone import INGESTIBLE_FORMATS, RawZone, S3RawZone, TableLayout, batch_file_key, encode_batch
from taglake.ingest.validate import Rejection, check_record

ROUTE = "/ingest/<source>/<table>"
MAX_RECORDS = 500
MAX_BODY_BYTES = 1_048_576  # 1 MiB (API Gateway allows 10 MB, a Lambda payload 6 MB)
IDEMPOTENCY_SECONDS = 24 * 3600
SERVICE = "taglake-ingest"
NAMESPACE = "taglake"
ROUTE_DESCRIPTION = (
    "Lands one record (a JSON object) or a batch (a JSON array) in the raw table `source.table`. Each record is "
    "checked against the table's live schema in the registry (header x-taglake-schema-version, default the newest) "
    "as staging checks it; the accepted ones land as one new file in the raw zone. x-request-id (a UUID) makes a "
    "retry safe: the same ID and body answer the first answer again and land nothing twice. A rejected record's "
    "reasons name the field and the rule, never the value."
)
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}", re.ASCII)
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_UUID = re.compile(UUID_PATTERN.removesuffix("$") + r"\Z", re.ASCII)


# --- what the API answers (also the OpenAPI document's schemas) ------------------------------------------------


class RejectedRecord(BaseModel):
    index: int = Field(description="The record's position in the batch (0 for a single record).")
    reasons: list[str] = Field(description="Why: each names a declared field and the rule, never the value.")


class IngestResult(BaseModel):
    request_id: str = Field(description="The client request ID (x-request-id) this answers.")
    table: str = Field(description="source.table")
    schema_version: int = Field(description="The registry version the records were checked against.")
    received: int
    accepted: int
    rejected: list[RejectedRecord] = Field(description="Each rejected record; empty when all were accepted.")
    file: str | None = Field(default=None, description="Where the accepted records landed (none if none).")


class ErrorBody(BaseModel):
    message: str = Field(description="What is wrong and how to fix it; never a value from the request.")


def _described(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


def _error(status: int, message: str) -> Response:
    return Response(status, content_types.APPLICATION_JSON, body=json.dumps({"message": message}))


# --- configuration -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestConfig:
    raw_bucket: str
    raw_prefix: str
    idempotency_table: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IngestConfig:
        missing = [n for n in ("TAGLAKE_RAW_BUCKET", "TAGLAKE_IDEMPOTENCY_TABLE") if not env.get(n)]
        if missing:
            raise RuntimeError(f"ingestion Lambda: set {', '.join(missing)} (docs/ingestion.md)")
        return cls(env["TAGLAKE_RAW_BUCKET"], env.get("TAGLAKE_RAW_PREFIX", ""), env["TAGLAKE_IDEMPOTENCY_TABLE"])


@dataclass
class Ingestor:
    """The ingestion function behind the route: everything it touches is passed in (tests pass moto clients, a
    local lake, a fixed clock)."""

    raw_zone: RawZone
    persistence: BasePersistenceLayer
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    registry_dir: Any = None
    logger: Logger = field(default_factory=lambda: Logger(service=SERVICE, log_uncaught_exceptions=False))
    metrics: Metrics = field(default_factory=lambda: Metrics(namespace=NAMESPACE, service=SERVICE))
    tracer: Tracer = field(default_factory=lambda: Tracer(service=SERVICE))
    idempotency: IdempotencyConfig = field(default_factory=lambda: idempotency_config())


def idempotency_config() -> IdempotencyConfig:
    """A retry is the same x-request-id: its first answer is replayed for 24 hours; the same ID with another
    table, version or body is refused (409)."""
    return IdempotencyConfig(
        event_key_jmespath="request_id",
        payload_validation_jmespath="[table, schema_version, body_sha256]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_SECONDS,
    )


def _schemas_for(
    ingestor: Ingestor, name: str, version: int | None
) -> tuple[int, dict[str, Any], dict[str, Any]] | None:
    """The live version asked for (default the newest live), its schema, and the table's current schema (what the
    file is written in); None when the table or version is not live."""
    live = registry.live_versions(name, ingestor.registry_dir)
    if not live:
        return None
    chosen = live[-1] if version is None else version
    if chosen not in live:
        return None
    current = registry.current_version(name, ingestor.registry_dir)
    schema = registry.read_version(name, chosen, ingestor.registry_dir)
    return chosen, schema, schema if current == chosen else registry.read_version(name, current, ingestor.registry_dir)


def _retired(record: dict[str, Any], layout: TableLayout) -> list[Rejection]:
    """An older live version's field the current table no longer has: fine when null (dropped), else rejected."""
    return [Rejection(k, "retired_field") for k, v in record.items() if k not in layout.fields and v is not None]


def build_resolver(ingestor: Ingestor) -> APIGatewayRestResolver:
    """The API's routes on Powertools' REST resolver (also what the OpenAPI document is generated from)."""
    app = APIGatewayRestResolver(enable_validation=True, debug=False)
    logger, metrics = ingestor.logger, ingestor.metrics

    @idempotent_function(
        data_keyword_argument="request", persistence_store=ingestor.persistence, config=ingestor.idempotency
    )
    def land(
        *, request: dict[str, Any], records: list[Any], schema: dict[str, Any], current: dict[str, Any]
    ) -> dict[str, Any]:
        layout = TableLayout.of_schema(current)  # files are written in the table's current version
        accepted, rejected = [], []
        for index, record in enumerate(records):
            problems = check_record(record, schema) or _retired(record, layout)
            if problems:
                reasons = sorted({p.reason for p in problems})
                rejected.append({"index": index, "reasons": reasons})
                for p in problems:
                    metrics.add_metric(name=f"Rejected_{p.rule}", unit=MetricUnit.Count, value=1)
            else:
                accepted.append({k: v for k, v in record.items() if k in layout.fields})
        where = None
        if accepted:
            landing: date = ingestor.clock().astimezone(UTC).date()
            key = batch_file_key(layout, landing, uuid.uuid4().hex)
            where = ingestor.raw_zone.put(key, encode_batch(layout, accepted))
        metrics.add_metric(name="RecordsAccepted", unit=MetricUnit.Count, value=len(accepted))
        metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=len(rejected))
        logger.info(
            "batch checked",
            extra={"table": layout.name, "received": len(records), "accepted": len(accepted),
                   "rejected": len(rejected), "schema_version": request["schema_version"]},
        )  # fmt: skip
        result = IngestResult(
            request_id=request["request_id"],
            table=layout.name,
            schema_version=request["schema_version"],
            received=len(records),
            accepted=len(accepted),
            rejected=[RejectedRecord(**r) for r in rejected],
            file=where,
        )
        return {"status": 207 if rejected else 200, "body": result.model_dump(mode="json")}

    responses: dict[int, Any] = {
        200: _described(IngestResult, "Every record accepted and landed."),
        207: _described(IngestResult, "Some or all records rejected: each one's index and reasons; the rest landed."),
        400: _described(ErrorBody, "Malformed request (body not JSON, no records, x-request-id not a UUID)."),
        403: _described(ErrorBody, "No valid API key (x-api-key)."),
        404: _described(ErrorBody, "No such table or live schema version."),
        409: _described(ErrorBody, "The request ID was used with another body, or that request is still in progress."),
        413: _described(ErrorBody, f"More than {MAX_RECORDS} records or {MAX_BODY_BYTES} bytes."),
    }

    @app.post(
        ROUTE,
        summary="Land records in a raw table",
        description=ROUTE_DESCRIPTION,
        responses=responses,
        operation_id="ingest",
        security=[{"apiKey": []}],
    )
    def ingest(
        source: Annotated[str, Path(description="The source, e.g. digital.")],
        table: Annotated[str, Path(description="The table, e.g. app_events.")],
        body: Annotated[dict[str, Any] | list[Any], Body(description="One record (an object) or a batch (an array).")],
        x_request_id: Annotated[
            str, Header(description="The client's request ID, a UUID: a retry reuses it.", pattern=UUID_PATTERN)
        ],
        x_taglake_schema_version: Annotated[
            str | None, Header(description="The registry version the records follow (default: the newest live).")
        ] = None,
    ):  # no return annotation: Powertools would validate the answer against it; `responses` documents them
        if not _UUID.fullmatch(x_request_id):
            return _error(400, "header x-request-id: a UUID (8-4-4-4-12 hex digits) that a retry reuses")
        version = None
        if x_taglake_schema_version is not None:
            if not re.fullmatch(r"[1-9][0-9]{0,3}", x_taglake_schema_version, re.ASCII):
                return _error(400, "header x-taglake-schema-version: a registry version number (1, 2, …)")
            version = int(x_taglake_schema_version)
        name = f"{source}.{table}"
        found = _schemas_for(ingestor, name, version) if _NAME.fullmatch(source) and _NAME.fullmatch(table) else None
        if found is None:
            return _error(404, "no such table or live schema version: see the schema registry (docs/ingestion.md)")
        schema_version, schema, current = found
        if schema.get("x-taglake-format") not in INGESTIBLE_FORMATS:
            return _error(404, "this table's file format is not written by the API (docs/ingestion.md)")
        records = body if isinstance(body, list) else [body]
        if not records:
            return _error(400, "body: an empty batch; send one record (an object) or an array of records")
        if len(records) > MAX_RECORDS:
            return _error(413, f"body: more than {MAX_RECORDS} records; split the batch")
        raw = app.current_event.body or ""
        request = {
            "request_id": x_request_id.lower(),
            "table": name,
            "schema_version": schema_version,
            "body_sha256": hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest(),
        }
        try:
            answer = land(request=request, records=records, schema=schema, current=current)
        except IdempotencyValidationError:
            return _error(409, "header x-request-id: already used for another body; use a new request ID")
        except IdempotencyAlreadyInProgressError:
            return _error(409, "header x-request-id: that request is still being processed; retry later")
        metrics.add_metric(name="Batches", unit=MetricUnit.Count, value=1)
        return Response(answer["status"], content_types.APPLICATION_JSON, body=json.dumps(answer["body"]))

    @app.exception_handler(RequestValidationError)
    def _malformed(exc: RequestValidationError) -> Response:
        # Pydantic's errors quote the input: only where the problem is (body, header name) leaves.
        declared = {"body", "source", "table", "x-request-id", "x_request_id", "x-taglake-schema-version"}
        places = {str(p) for e in exc.errors() for p in tuple(e.get("loc", ()))[:2]}
        where = ", ".join(sorted({p.replace("_", "-") for p in places & declared})) or "the request"
        return _error(400, f"malformed request at {where}: see the OpenAPI document (docs/ingestion.md)")

    @app.not_found
    def _not_found(_exc: NotFoundError) -> Response:
        return _error(404, "no such route: POST /ingest/{source}/{table}")

    @app.exception_handler(Exception)
    def _failed(exc: Exception) -> Response:
        logger.error("ingestion failed", extra={"error_class": type(exc).__name__})  # the class only, never text
        return _error(500, "internal error; retry with the same x-request-id")

    return app


def too_large(event: Mapping[str, Any]) -> bool:
    body = event.get("body") or ""
    return len(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body) > MAX_BODY_BYTES


def make_handler(ingestor: Ingestor) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point over `ingestor`: the API-key and size gates, then the resolver; Powertools logs (no
    event), metrics (flushed each call) and traces (no payloads)."""
    app = build_resolver(ingestor)
    logger, metrics, tracer = ingestor.logger, ingestor.metrics, ingestor.tracer

    def _gates(event: dict[str, Any]) -> dict[str, Any] | None:
        if not isinstance(event, dict):
            return None
        if not has_api_key(event):
            return proxy_answer(403, "x-api-key: a valid API key is required")
        if too_large(event):
            return proxy_answer(413, f"body: more than {MAX_BODY_BYTES} bytes; split the batch")
        return None

    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False, capture_error=False)
    @logger.inject_lambda_context(log_event=False, clear_state=True)
    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        quiet_library_loggers()  # each call: a log level set after the cold start must not open them either
        ingestor.idempotency.register_lambda_context(context)
        refused = _gates(event)
        if refused is not None:
            return refused
        return app.resolve(event, context)

    return handle


@cache
def _default_handler(raw_bucket: str, raw_prefix: str, idempotency_table: str) -> Callable[..., dict[str, Any]]:
    import boto3

    ingestor = Ingestor(
        raw_zone=S3RawZone(boto3.client("s3"), raw_bucket, raw_prefix),
        persistence=DynamoDBPersistenceLayer(table_name=idempotency_table),
    )
    return make_handler(ingestor)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda's handler (`taglake.ingest.app.handler`): built once per warm container from the environment."""
    config = IngestConfig.from_env(os.environ)
    return _default_handler(config.raw_bucket, config.raw_prefix, config.idempotency_table)(event, context)
