"""The ingestion Lambda on this machine: a WSGI app that turns an HTTP request into the API Gateway REST proxy
event the Lambda receives (checking the API key as API Gateway does) and the Lambda's answer back into HTTP.

`taglake api serve` runs it on 127.0.0.1 against the local lake (or moto's S3); the tests run the same app
in-process (schemathesis, the round trip). Idempotency records live in moto's DynamoDB in this process.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from taglake.core.errors import Refused
from taglake.core.lambda_local import (
    LOOPBACK,
    LocalContext,
    quiet_request_handler,
    rest_proxy_event,
    stopped_by_signals,
    wsgi_reply,
)
from taglake.ingest.app import ROUTE

OPENAPI_PATH = "/openapi.json"
IDEMPOTENCY_TABLE = "taglake-ingest-idempotency"
LOCAL_BUCKET = "taglake-local-raw"


def rest_event(
    method: str, path: str, headers: dict[str, str], body: bytes, *, api_key_id: str | None
) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event of one request; `api_key_id` is set when the key was valid."""
    parts = path.strip("/").split("/")
    params = None
    if len(parts) == 3 and parts[0] == "ingest":
        params = {"source": parts[1], "table": parts[2]}
    identity: dict[str, Any] = {"sourceIp": "127.0.0.1"}
    if api_key_id:
        identity["apiKeyId"] = api_key_id
    resource = ROUTE.replace("<", "{").replace(">", "}")
    return rest_proxy_event(
        method, path, headers, body, resource=resource if params else path, path_parameters=params, identity=identity
    )


def wsgi_app(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], api_key: str, openapi: dict[str, Any]
) -> Callable[..., Iterable[bytes]]:
    """A WSGI app over the Lambda `handler`: POSTs become REST proxy events; GET /openapi.json is the document."""
    expected = api_key.encode("utf-8")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO") or "/"
        if method == "GET" and path == OPENAPI_PATH:
            return wsgi_reply(start_response, 200, {"Content-Type": "application/json"}, json.dumps(openapi).encode())
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        given = headers.get("x-api-key", "").encode("utf-8", "surrogateescape")
        valid = bool(expected) and hmac.compare_digest(given, expected)
        event = rest_event(method, path, headers, body, api_key_id="local-key" if valid else None)
        answer = handler(event, LocalContext())
        out = answer.get("body") or ""
        data = base64.b64decode(out) if answer.get("isBase64Encoded") else out.encode("utf-8")
        reply_headers = {k: str(v) for k, v in (answer.get("headers") or {}).items()}
        for key, values in (answer.get("multiValueHeaders") or {}).items():
            reply_headers[key] = ", ".join(str(v) for v in values)
        return wsgi_reply(start_response, int(answer["statusCode"]), reply_headers, data)

    return app


API_KEY_ENV = "TAGLAKE_API_KEY"
API_KEY_FILE = ".secrets/ingest_api_key"


class ServeError(Refused):
    """`taglake api serve` cannot start as asked."""


def local_api_key(key_file: Path, env: dict[str, str]) -> tuple[str, str]:
    """The key a local client must send (x-api-key) and where it came from: TAGLAKE_API_KEY, else the key file,
    which is made (mode 600, outside git) on first use. The key itself is never printed."""
    if env.get(API_KEY_ENV):
        return env[API_KEY_ENV], f"the environment variable {API_KEY_ENV}"
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
    key = key_file.read_text(encoding="utf-8").strip()
    if not key:
        raise ServeError(f"{key_file}: empty API key file; delete it and serve again to make a new key")
    return key, str(key_file)


def lake_last_day(lake_dir: Path) -> date | None:
    """The local lake's last landing day (manifest.json), where a batch lands so that the next build has every
    table complete up to the same day (docs/raw-zone.md, completeness)."""
    manifest = lake_dir / "manifest.json"
    if not manifest.exists():
        return None
    params = json.loads(manifest.read_text(encoding="utf-8")).get("params", {})
    last = params.get("last_date") or params.get("end_date")
    return date.fromisoformat(last) if last else None


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    lake_dir: Path | None  # None: moto's S3 in this process
    landing: date | None  # None: the clock's UTC date
    api_key: str


def serve(options: ServeOptions, announce: Callable[[str], None]) -> None:
    """Serve the ingestion Lambda over HTTP until interrupted: moto's DynamoDB (and S3 without a lake) in this
    process, the local lake or moto's bucket as the raw zone."""
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from moto import mock_aws
    from werkzeug.serving import make_server

    from taglake.ingest.app import Ingestor, make_handler
    from taglake.ingest.openapi import openapi_document
    from taglake.ingest.raw_zone import LocalRawZone, RawZone, S3RawZone

    if options.host not in LOOPBACK:
        raise ServeError("--host: the local server listens on the loopback address only (127.0.0.1)")
    region = "ap-northeast-1"
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=region)
        dynamodb.create_table(
            TableName=IDEMPOTENCY_TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        zone: RawZone
        if options.lake_dir is None:
            s3 = boto3.client("s3", region_name=region)
            s3.create_bucket(Bucket=LOCAL_BUCKET, CreateBucketConfiguration={"LocationConstraint": region})
            zone = S3RawZone(s3, LOCAL_BUCKET, "raw")
        else:
            zone = LocalRawZone(options.lake_dir)
        landing = options.landing

        def clock() -> datetime:
            now = datetime.now(UTC)
            return datetime.combine(landing, now.time(), UTC) if landing else now

        handler = make_handler(
            Ingestor(
                raw_zone=zone,
                persistence=DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=dynamodb),
                clock=clock,
            )
        )
        app = wsgi_app(handler, options.api_key, openapi_document())
        server = make_server(options.host, options.port, app, request_handler=quiet_request_handler())
        where = f"the lake {options.lake_dir}" if options.lake_dir else f"moto's s3://{LOCAL_BUCKET}/raw (in memory)"
        announce(
            f"taglake ingestion API on http://{options.host}:{server.server_port}/ingest/<source>/<table> "
            f"writing to {where}"
            + (f", landing day {landing.isoformat()}" if landing else "")
            + f"; OpenAPI at {OPENAPI_PATH}; Ctrl-C stops it"
        )
        try:
            with stopped_by_signals():
                server.serve_forever()
        finally:
            server.server_close()
