"""The ingestion Lambda against moto (in-process): a raw bucket, the idempotency table, and the WSGI app the
tests and `taglake api serve` share. Shared by the tests under tests_py/ingest/."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from moto import mock_aws

from taglake.ingest.app import Ingestor, make_handler
from taglake.ingest.local import IDEMPOTENCY_TABLE, LocalContext, rest_event, wsgi_app
from taglake.ingest.openapi import openapi_document
from taglake.ingest.raw_zone import LocalRawZone, RawZone, S3RawZone

REGION = "ap-northeast-1"
BUCKET = "bank-raw-test"
PREFIX = "raw"
API_KEY = "test-key-not-secret"
FIXED_NOW = datetime(2026, 10, 31, 9, 30, tzinfo=UTC)


@dataclass
class Harness:
    s3: Any
    handler: Any
    app: Any

    def post(
        self,
        path: str,
        body: Any,
        *,
        request_id: str | None = None,
        api_key: str | None = API_KEY,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """POST through the WSGI app (API key checked as API Gateway does); the status and the JSON answer."""
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
            "HTTP_X_REQUEST_ID": request_id or str(uuid.uuid4()),
        }
        if api_key is not None:
            environ["HTTP_X_API_KEY"] = api_key
        for key, value in (headers or {}).items():
            environ["HTTP_" + key.upper().replace("-", "_")] = value
        status: list[str] = []
        chunks = self.app(environ, lambda s, h: status.append(s))
        return int(status[0].split()[0]), json.loads(b"".join(chunks) or b"{}")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.handler(event, LocalContext())

    def keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    def empty_bucket(self) -> None:
        for key in self.keys():
            self.s3.delete_object(Bucket=BUCKET, Key=key)

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


@contextmanager
def ingest_harness(
    lake_dir: Path | None = None,
    *,
    now: datetime = FIXED_NOW,
    logger: Logger | None = None,
    registry_dir: Path | None = None,
) -> Iterator[Harness]:
    """The handler over moto's S3 (or the local lake at `lake_dir`) and moto's DynamoDB, with a fixed clock; its
    Powertools Logger is `logger` when given (a test that reads the log lines gives one with its own stream)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=IDEMPOTENCY_TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        zone: RawZone = LocalRawZone(lake_dir) if lake_dir else S3RawZone(s3, BUCKET, PREFIX)
        ingestor = Ingestor(
            raw_zone=zone,
            persistence=DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE, boto3_client=dynamodb),
            clock=lambda: now,
            registry_dir=registry_dir,
            **({"logger": logger} if logger else {}),
        )
        handler = make_handler(ingestor)
        yield Harness(s3=s3, handler=handler, app=wsgi_app(handler, API_KEY, _openapi()))


@cache
def _openapi() -> dict[str, Any]:
    return openapi_document()


def event(path: str, body: Any, **kw: Any) -> dict[str, Any]:
    headers = {"content-type": "application/json", "x-request-id": str(uuid.uuid4()), **kw.pop("headers", {})}
    return rest_event("POST", path, headers, json.dumps(body).encode(), api_key_id=kw.pop("api_key_id", "k1"))
