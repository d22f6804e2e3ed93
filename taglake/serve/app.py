"""The tag retrieval Lambda: an application asks for a customer's current tags, by customer token.

`GET /customers/{customer_token}/tags` answers one customer; `POST /customers/tags/batch` with
`{"customer_tokens": [...]}` (at most MAX_BATCH) answers several in one call. Each answer is the customer's tags on
the as-of date: each tag's code (its definition's id in the tag catalog), family, names, value and score. 200 known
(an empty list when the customer holds no tag), 404 unknown token, 400 anything that is not a customer token (64
lowercase hex digits) — a national ID, a name, a mobile number in any spelling — never repeated in the answer, a
log line, a metric or a trace; 403 no API key; 413 too many tokens or too large a body.

`handler` is what AWS runs (`taglake.serve.app.handler`): it reads the DynamoDB cache TAGLAKE_TAG_CACHE_TABLE
(store.DynamoTagStore), which `taglake serve refresh-cache` fills after each daily run. Locally `taglake serve api`
runs the same resolver over the built DuckDB (store.DuckDBTagStore). See docs/retrieval.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, Field

from taglake.core.lambda_local import has_api_key, proxy_answer, quiet_library_loggers
from taglake.serve.store import TagStore, is_token

ROUTE = "/customers/<customer_token>/tags"
BATCH_ROUTE = "/customers/tags/batch"
MAX_BATCH = 100  # DynamoDB's BatchGetItem takes 100 keys: one call per batch
MAX_BODY_BYTES = 16_384  # 100 tokens of 64 characters, quoted, with room
SERVICE = "taglake-tags"
NAMESPACE = "taglake"
CACHE_TABLE_ENV = "TAGLAKE_TAG_CACHE_TABLE"
TOKEN_RULE = "a customer token (64 lowercase hex digits); clear identifiers are never accepted"


class TagOut(BaseModel):
    tag_code: str = Field(description="The tag's code: its definition's id in the tag catalog (tag_catalog).")
    tag_family: str
    tag_name_en: str
    tag_name_zh: str
    tag_value: str = Field(description="`Y` for yes/no tags, the grade for RISK_HIGH_GRADE, `high` for model tags.")
    tag_score: float | None = Field(description="The model's score (0-1) for model tags; null for rule tags.")


class CustomerTagsOut(BaseModel):
    customer_token: str = Field(description="The customer (keyed pseudonym).")
    as_of_date: str = Field(description="The date the tags hold for (YYYY-MM-DD).")
    tags: list[TagOut] = Field(description="The tags held, by code; empty when the customer holds none.")


class BatchIn(BaseModel):
    customer_tokens: list[str] = Field(description=f"1 to {MAX_BATCH} customer tokens.")


class BatchOut(BaseModel):
    customers: list[CustomerTagsOut] = Field(description="Each known customer, in the order asked.")
    not_found: list[str] = Field(description="The tokens of no known customer, in the order asked.")


class ErrorBody(BaseModel):
    message: str = Field(description="What is wrong and how to fix it; never a value from the request.")


def _described(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


def _json(status: int, body: Any) -> Response:
    return Response(status, content_types.APPLICATION_JSON, body=json.dumps(body, ensure_ascii=False))


def _error(status: int, message: str) -> Response:
    return _json(status, {"message": message})


@dataclass
class Retriever:
    """The retrieval function behind the routes: its store is passed in (DuckDB locally, the cache on AWS)."""

    store: TagStore
    logger: Logger = field(default_factory=lambda: Logger(service=SERVICE, log_uncaught_exceptions=False))
    metrics: Metrics = field(default_factory=lambda: Metrics(namespace=NAMESPACE, service=SERVICE))
    tracer: Tracer = field(default_factory=lambda: Tracer(service=SERVICE))


def build_resolver(retriever: Retriever) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True, debug=False)
    logger, metrics, store = retriever.logger, retriever.metrics, retriever.store

    def refused(where: str) -> Response:
        metrics.add_metric(name="Refused", unit=MetricUnit.Count, value=1)
        return _error(400, f"{where}: {TOKEN_RULE}")

    single: dict[int, Any] = {
        200: _described(CustomerTagsOut, "The customer's current tags."),
        400: _described(ErrorBody, "Not a customer token."),
        403: _described(ErrorBody, "No valid API key (x-api-key)."),
        404: _described(ErrorBody, "No customer has this token."),
    }

    @app.get(ROUTE, summary="A customer's current tags", responses=single, operation_id="customerTags",
             security=[{"apiKey": []}])  # fmt: skip
    def customer_tags(
        customer_token: Annotated[str, Path(description="The customer token (64 lowercase hex digits).")],
    ):  # no return annotation: the answers are documented in `responses`
        if not is_token(customer_token):
            return refused("path customer_token")
        found = store.customer_tags([customer_token]).get(customer_token)
        metrics.add_metric(name="Found" if found else "NotFound", unit=MetricUnit.Count, value=1)
        logger.info("answered", extra={"asked": 1, "found": int(found is not None)})
        if found is None:
            return _error(404, "no customer has this token (the tags are as of the last daily run)")
        return _json(200, found.as_dict())

    batch: dict[int, Any] = {
        200: _described(BatchOut, "The known customers' tags and the tokens of no known customer."),
        400: _described(ErrorBody, "A body that is not {customer_tokens: [...]}, or an entry not a customer token."),
        403: _described(ErrorBody, "No valid API key (x-api-key)."),
        413: _described(ErrorBody, f"More than {MAX_BATCH} tokens or {MAX_BODY_BYTES} bytes."),
    }

    @app.post(BATCH_ROUTE, summary="Several customers' current tags", responses=batch, operation_id="batchTags",
              security=[{"apiKey": []}])  # fmt: skip
    def batch_tags(body: Annotated[BatchIn, Body(description="The customer tokens asked for.")]):
        tokens = body.customer_tokens
        if not tokens:
            return _error(400, f"body customer_tokens: 1 to {MAX_BATCH} customer tokens")
        if len(tokens) > MAX_BATCH:
            return _error(413, f"body customer_tokens: more than {MAX_BATCH} tokens; split the batch")
        bad = [i for i, t in enumerate(tokens) if not is_token(t)]
        if bad:
            return refused(f"body customer_tokens[{bad[0]}]")
        asked = list(dict.fromkeys(tokens))
        found = store.customer_tags(asked)
        metrics.add_metric(name="Found", unit=MetricUnit.Count, value=len(found))
        metrics.add_metric(name="NotFound", unit=MetricUnit.Count, value=len(asked) - len(found))
        logger.info("answered", extra={"asked": len(asked), "found": len(found)})
        return _json(
            200,
            {
                "customers": [found[t].as_dict() for t in asked if t in found],
                "not_found": [t for t in asked if t not in found],
            },
        )

    @app.exception_handler(RequestValidationError)
    def _malformed(exc: RequestValidationError) -> Response:
        # Pydantic's errors quote the input: only the place (body, path) leaves.
        places = {str(p) for e in exc.errors() for p in tuple(e.get("loc", ()))[:1]}
        where = ", ".join(sorted(places & {"body", "path", "query", "header"})) or "the request"
        return _error(400, f'malformed request at {where}: send {{"customer_tokens": [...]}} (docs/retrieval.md)')

    @app.not_found
    def _not_found(_exc: NotFoundError) -> Response:
        return _error(404, "no such route: GET /customers/{customer_token}/tags or POST /customers/tags/batch")

    @app.exception_handler(Exception)
    def _failed(exc: Exception) -> Response:
        logger.error("retrieval failed", extra={"error_class": type(exc).__name__})  # the class only, never text
        return _error(500, "internal error; retry")

    return app


def make_handler(retriever: Retriever) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point over `retriever`: the API-key and size gates, then the resolver; logs without the
    event, metrics flushed each call, traces without payloads."""
    app = build_resolver(retriever)
    logger, metrics, tracer = retriever.logger, retriever.metrics, retriever.tracer

    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False, capture_error=False)
    @logger.inject_lambda_context(log_event=False, clear_state=True)
    def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        quiet_library_loggers()
        if not isinstance(event, dict) or not has_api_key(event):
            return proxy_answer(403, "x-api-key: a valid API key is required")
        body = event.get("body") or ""
        if len(body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body) > MAX_BODY_BYTES:
            return proxy_answer(413, f"body: more than {MAX_BODY_BYTES} bytes; split the batch")
        return app.resolve(event, context)

    return handle


@cache
def _default_handler(table: str) -> Callable[..., dict[str, Any]]:
    import boto3

    from taglake.serve.store import DynamoTagStore

    return make_handler(Retriever(store=DynamoTagStore(boto3.client("dynamodb"), table)))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda's handler (`taglake.serve.app.handler`): built once per warm container from the environment."""
    table = os.environ.get(CACHE_TABLE_ENV)
    if not table:
        raise RuntimeError(f"tag retrieval Lambda: set {CACHE_TABLE_ENV} (docs/retrieval.md)")
    return _default_handler(table)(event, context)
