"""The tag retrieval Lambda for the tests under tests_py/serve/: its handler over a store, requests through the
same WSGI app `taglake serve api` serves, and the build's own answer to compare with."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb
from aws_lambda_powertools import Logger

from taglake.core.project import Project
from taglake.privacy.access_policy import consumption_layers
from taglake.serve.app import Retriever, make_handler
from taglake.serve.local import rest_event, wsgi_app
from taglake.serve.store import DuckDBTagStore, TagStore


@dataclass
class Api:
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]

    def call(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:  # fmt: skip
        """One request through the local WSGI app: the status and the JSON answer."""
        data = raw if raw is not None else (b"" if body is None else json.dumps(body, ensure_ascii=False).encode())
        environ = {
            "REQUEST_METHOD": method,
            # WSGI carries the decoded path as latin-1 text, as a server hands it on.
            "PATH_INFO": path.encode("utf-8").decode("latin-1"),
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.input": io.BytesIO(data),
        }
        for key, value in (headers or {}).items():
            environ["HTTP_" + key.upper().replace("-", "_")] = value
        status: list[str] = []
        app = wsgi_app(self.handler, {})
        chunks = app(environ, lambda s, h: status.append(s))
        return int(status[0].split()[0]), json.loads(b"".join(chunks) or b"{}")

    def event(self, method: str, path: str, body: bytes = b"") -> dict[str, Any]:
        return rest_event(method, path, {"content-type": "application/json"}, body)


def api_over(store: TagStore, logger: Logger | None = None) -> Api:
    retriever = Retriever(store=store) if logger is None else Retriever(store=store, logger=logger)
    return Api(make_handler(retriever))


def duckdb_store(project: Project) -> DuckDBTagStore:
    return DuckDBTagStore(project.duckdb_path, consumption_layers(project.root))


def mart_rows(project: Project, token: str) -> list[dict[str, Any]]:
    """The build's own rows for `token`: fct_customer_tags joined to the tag catalog, by tag code."""
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        schemas = dict(
            con.execute(
                "select table_name, table_schema from information_schema.tables "
                "where table_name in ('fct_customer_tags', 'tag_catalog')"
            ).fetchall()
        )
        rows = con.execute(
            f"select t.tag_code, t.tag_family, c.tag_name_en, c.tag_name_zh, t.tag_value, t.tag_score "
            f'from "{schemas["fct_customer_tags"]}".fct_customer_tags as t '
            f'join "{schemas["tag_catalog"]}".tag_catalog as c using (tag_code) '
            "where t.customer_token = ? order by t.tag_code",
            [token],
        ).fetchall()
    keys = ("tag_code", "tag_family", "tag_name_en", "tag_name_zh", "tag_value", "tag_score")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def profile_tokens(project: Project) -> list[tuple[str, int, str]]:
    """(token, tag_count, as_of_date) of every customer in customer_tag_profile_v1, most tags first."""
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        schema = con.execute(
            "select table_schema from information_schema.tables where table_name = 'customer_tag_profile_v1'"
        ).fetchone()[0]
        return [
            (t, n, d.isoformat())
            for t, n, d in con.execute(
                f'select customer_token, tag_count, as_of_date from "{schema}".customer_tag_profile_v1 '
                "order by tag_count desc, customer_token"
            ).fetchall()
        ]
