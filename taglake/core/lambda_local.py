"""What the project's Lambdas behind API Gateway share (the ingestion API, taglake.ingest; the tag retrieval API,
taglake.serve): keeping the libraries that log payloads quiet, the API-key gate, a proxy answer, and the pieces of
their local servers (a Lambda context, a WSGI answer, a request handler that logs no path), and the clean-up of
the OpenAPI documents Powertools generates for them."""

from __future__ import annotations

import base64
import json
import logging
import signal
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")

# Libraries that log what they are handed at DEBUG: Powertools' resolver logs the route's arguments (the records),
# botocore the request parameters (the file body). A Lambda's log level (advanced logging controls, or a test's
# DEBUG root logger) must never turn those on.
QUIET_LOGGERS = ("aws_lambda_powertools", "botocore", "boto3", "s3transfer", "urllib3")


def quiet_library_loggers() -> None:
    """Keep the libraries that would log request content at INFO or above (their DEBUG lines hold payloads)."""
    for name in QUIET_LOGGERS:
        library = logging.getLogger(name)
        if library.getEffectiveLevel() < logging.INFO:
            library.setLevel(logging.INFO)


def has_api_key(event: Mapping[str, Any]) -> bool:
    """API Gateway sets the caller's key ID when the method requires a key: refuse an event without one (a
    stage deployed without `ApiKeyRequired` must not open the data)."""
    identity = (event.get("requestContext") or {}).get("identity") or {}
    return bool(identity.get("apiKeyId") or identity.get("apiKey"))


def proxy_answer(status: int, message: str) -> dict[str, Any]:
    """An API Gateway proxy answer with a JSON `message` (never a value from the request)."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
        "isBase64Encoded": False,
    }


@dataclass(frozen=True)
class LocalContext:
    """What Powertools reads of a Lambda context."""

    function_name: str = "taglake-ingest-local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-1:000000000000:function:taglake-ingest-local"
    aws_request_id: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


_REASONS = {200: "OK", 207: "Multi-Status", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 413: "Content Too Large", 422: "Unprocessable Content",
            500: "Internal Server Error"}  # fmt: skip


def rest_proxy_event(
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    resource: str,
    path_parameters: dict[str, str] | None,
    identity: dict[str, Any],
) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event of one local request, as the Lambda receives it on AWS: the matched
    `resource` and its `path_parameters` (the caller's route matching), the caller's `identity` (source IP, and the
    API key's ID once the key was checked), the body as text or base64."""
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": "/local" + path,
            "stage": "local",
            "requestId": str(uuid.uuid4()),
            "identity": identity,
        },
        "body": text if body else None,
        "isBase64Encoded": encoded,
    }


def wsgi_reply(start_response: Callable[..., Any], status: int, headers: dict[str, str], data: bytes) -> list[bytes]:
    """Answer a WSGI request with `data` (its own Content-Length)."""
    headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
    start_response(f"{status} {_REASONS.get(status, 'Status')}", [*headers.items(), ("Content-Length", str(len(data)))])
    return [data]


def quiet_request_handler() -> type:
    """Werkzeug's request handler without its access log: that line holds the request path, which a caller can
    fill with anything (a national ID in place of a table name or a token). The console gets the method and
    status only."""
    from werkzeug.serving import WSGIRequestHandler

    class QuietRequestHandler(WSGIRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            print(f"{self.command} {code}", file=sys.stderr, flush=True)

        def log(self, type: str, message: str, *args: Any) -> None:
            print(f"request {type}: not shown (it may hold what the caller sent)", file=sys.stderr, flush=True)

    return QuietRequestHandler


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextmanager
def stopped_by_signals() -> Iterator[None]:
    """While a local server runs: Ctrl-C (SIGINT) and SIGTERM stop it, as a KeyboardInterrupt in the main thread,
    even when the process started with SIGINT ignored (a command started in the background by a non-interactive
    shell, such as make under CI, inherits that), so `serve_forever()` always ends and the server closes."""
    before = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)


def without_unsent_422(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools lists a 422 on every validated route; these APIs answer a request that fails validation with 400
    (their resolvers' handlers), so the 422 and the schemas only it used are taken out of the OpenAPI document."""
    for path in document.get("paths", {}).values():
        for operation in path.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    used = json.dumps(document.get("paths", {}))
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f"#/components/schemas/{name}" not in used and name in schemas:
            del schemas[name]
    return document


def render_openapi(document: dict[str, Any]) -> str:
    """An OpenAPI document as it is checked in: sorted keys, two-space indent, UTF-8 kept, a final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_openapi(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(render_openapi(document), encoding="utf-8")
    return path


def openapi_is_current(path: Path, document: dict[str, Any]) -> bool:
    """Whether the checked-in copy at `path` is what the code generates now."""
    return path.exists() and path.read_text(encoding="utf-8") == render_openapi(document)
