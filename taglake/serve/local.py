"""The tag retrieval Lambda on this machine: a WSGI app that turns an HTTP request into the API Gateway REST proxy
event the Lambda receives, and its answer back into HTTP; `taglake serve api` serves it on 127.0.0.1 over the local
build (DuckDB, read-only) or, with --cache, over moto's DynamoDB filled from that build as `refresh-cache` fills
the real one. The local server stands in for API Gateway after its key check: it listens on the loopback address
only and marks every request as carrying a key. Its console shows the method and status, never a path."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
from taglake.serve.app import BATCH_ROUTE, ROUTE

OPENAPI_PATH = "/openapi.json"
CACHE_TABLE = "taglake-tag-cache"
REGION = "ap-northeast-1"


class ServeError(Refused):
    """`taglake serve api` cannot start as asked."""


def local_context() -> LocalContext:
    return LocalContext(
        function_name="taglake-tags-local",
        invoked_function_arn=f"arn:aws:lambda:{REGION}:000000000000:function:taglake-tags-local",
    )


def rest_event(method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event of one request, after API Gateway's key check."""
    parts = path.strip("/").split("/")
    resource, params = path, None
    if path.rstrip("/") == BATCH_ROUTE:
        resource = BATCH_ROUTE
    elif len(parts) == 3 and parts[0] == "customers" and parts[2] == "tags":
        resource, params = ROUTE.replace("<", "{").replace(">", "}"), {"customer_token": parts[1]}
    identity = {"sourceIp": "127.0.0.1", "apiKeyId": "local-key"}
    return rest_proxy_event(method, path, headers, body, resource=resource, path_parameters=params, identity=identity)


def wsgi_app(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], openapi: dict[str, Any]
) -> Callable[..., Iterable[bytes]]:
    """A WSGI app over the Lambda `handler`; GET /openapi.json is the API's OpenAPI document."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        # WSGI hands the decoded path as latin-1 text: back to the bytes, then UTF-8 as API Gateway decodes it.
        path = (environ.get("PATH_INFO") or "/").encode("latin-1").decode("utf-8", "replace")
        if method == "GET" and path == OPENAPI_PATH:
            return wsgi_reply(start_response, 200, {"Content-Type": "application/json"}, json.dumps(openapi).encode())
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        answer = handler(rest_event(method, path, headers, body), local_context())
        out = answer.get("body") or ""
        data = base64.b64decode(out) if answer.get("isBase64Encoded") else out.encode("utf-8")
        reply = {k: str(v) for k, v in (answer.get("headers") or {}).items()}
        for key, values in (answer.get("multiValueHeaders") or {}).items():
            reply[key] = ", ".join(str(v) for v in values)
        return wsgi_reply(start_response, int(answer["statusCode"]), reply, data)

    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document the code declares (taglake.serve.openapi; nothing is called)."""
    from taglake.serve.openapi import openapi_document as generated

    return generated()


@dataclass(frozen=True)
class ServeOptions:
    host: str
    port: int
    database: Path
    consumption_layers: tuple[str, ...]
    cache: bool  # True: moto's DynamoDB, filled from the build, is what the handler reads


def serve(options: ServeOptions, announce: Callable[[str], None]) -> None:
    """Serve the retrieval Lambda over HTTP until interrupted."""
    from contextlib import ExitStack

    from werkzeug.serving import make_server

    from taglake.serve.app import Retriever, make_handler
    from taglake.serve.store import DuckDBTagStore, DynamoTagStore, TagStore, create_cache_table, refresh_cache

    if options.host not in LOOPBACK:
        raise ServeError("--host: the local server listens on the loopback address only (127.0.0.1)")
    with ExitStack() as stack:
        duck = stack.enter_context(DuckDBTagStore(options.database, options.consumption_layers))
        store: TagStore = duck
        where = f"the build {options.database} (DuckDB, read-only)"
        if options.cache:
            import boto3
            from moto import mock_aws

            stack.enter_context(mock_aws())
            client = boto3.client("dynamodb", region_name=REGION)
            create_cache_table(client, CACHE_TABLE)
            done = refresh_cache(duck.all_customer_tags(), client, CACHE_TABLE)
            store = DynamoTagStore(client, CACHE_TABLE)
            where = f"moto's DynamoDB table {CACHE_TABLE} ({done.written} customers from {options.database})"
        app = wsgi_app(make_handler(Retriever(store=store)), openapi_document())
        server = make_server(options.host, options.port, app, request_handler=quiet_request_handler())
        announce(
            f"taglake tag retrieval API on http://{options.host}:{server.server_port}/customers/<token>/tags "
            f"(and POST {BATCH_ROUTE}) reading {where}; OpenAPI at {OPENAPI_PATH}; Ctrl-C stops it"
        )
        try:
            with stopped_by_signals():
                server.serve_forever()
        finally:
            server.server_close()
