"""The tag retrieval API over the session's built lake: a known token answers the marts' rows, an unknown one
404, the batch form and its limits, the relations it reads are the application role's, the DynamoDB cache
refreshed on moto answers exactly what DuckDB answers, and `taglake serve api` answers over HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import duckdb
import pytest
from moto import mock_aws
from project_copy import run_taglake
from serve_harness import api_over, duckdb_store, mart_rows, profile_tokens

from taglake.core.project import Project
from taglake.privacy.access_policy import load_access
from taglake.serve.app import MAX_BATCH
from taglake.serve.local import local_context
from taglake.serve.store import (
    SERVED_RELATIONS,
    DuckDBTagStore,
    DynamoTagStore,
    athena_names,
    create_cache_table,
    customers_from_cursor,
    refresh_cache,
)

pytestmark = [pytest.mark.retrieval, pytest.mark.dbt]  # the session's built lake

UNKNOWN = "0" * 64
REGION = "ap-northeast-1"


@pytest.fixture(scope="module")
def store(built_project: Project) -> Iterator[DuckDBTagStore]:
    with duckdb_store(built_project) as opened:
        yield opened


@pytest.fixture(scope="module")
def customers(built_project: Project) -> list[tuple[str, int, str]]:
    return profile_tokens(built_project)


def test_a_known_token_answers_the_marts_rows_with_the_as_of_date(
    built_project: Project, store: DuckDBTagStore, customers: list[tuple[str, int, str]]
) -> None:
    api = api_over(store)
    token, count, as_of = customers[0]  # the customer holding the most tags
    assert count >= 2
    status, answer = api.call("GET", f"/customers/{token}/tags")
    assert status == 200
    assert answer == {"customer_token": token, "as_of_date": as_of, "tags": mart_rows(built_project, token)}
    assert len(answer["tags"]) == count


def test_a_customer_holding_no_tag_is_known_with_an_empty_list(
    store: DuckDBTagStore, customers: list[tuple[str, int, str]]
) -> None:
    token, _, as_of = next(c for c in customers if c[1] == 0)
    status, answer = api_over(store).call("GET", f"/customers/{token}/tags")
    assert (status, answer) == (200, {"customer_token": token, "as_of_date": as_of, "tags": []})


def test_an_unknown_token_is_404_without_the_token_in_the_message(store: DuckDBTagStore) -> None:
    status, answer = api_over(store).call("GET", f"/customers/{UNKNOWN}/tags")
    assert status == 404
    assert UNKNOWN not in json.dumps(answer)


def test_a_token_in_upper_case_or_of_another_length_is_400_and_one_with_a_newline_is_no_route(
    store: DuckDBTagStore, customers: list[tuple[str, int, str]]
) -> None:
    token = customers[0][0]
    for wrong in (token.upper(), token[:-1], token + "0", f" {token}", f"{token} ", f"{token}%0A"):
        status, answer = api_over(store).call("GET", f"/customers/{wrong}/tags")
        assert status == 400, repr(wrong[-3:])
        assert "64 lowercase hex" in answer["message"]
    # A control character is outside the route's path pattern: no route (404), never the customer's tags.
    status, answer = api_over(store).call("GET", f"/customers/{token}\n/tags")
    assert status == 404 and "tags" not in answer


def test_the_batch_answers_each_known_token_in_order_and_lists_the_unknown(
    built_project: Project, store: DuckDBTagStore, customers: list[tuple[str, int, str]]
) -> None:
    asked = [customers[5][0], UNKNOWN, customers[0][0], customers[5][0], customers[-1][0]]
    status, answer = api_over(store).call("POST", "/customers/tags/batch", {"customer_tokens": asked})
    assert status == 200
    assert [c["customer_token"] for c in answer["customers"]] == [customers[5][0], customers[0][0], customers[-1][0]]
    assert answer["not_found"] == [UNKNOWN]
    for customer in answer["customers"]:
        assert customer["tags"] == mart_rows(built_project, customer["customer_token"])


def test_a_batch_over_the_limit_is_413_and_an_empty_or_malformed_one_400(
    store: DuckDBTagStore, customers: list[tuple[str, int, str]]
) -> None:
    api = api_over(store)
    tokens = [c[0] for c in customers]
    assert api.call("POST", "/customers/tags/batch", {"customer_tokens": tokens[:MAX_BATCH]})[0] == 200
    assert api.call("POST", "/customers/tags/batch", {"customer_tokens": tokens[: MAX_BATCH + 1]})[0] == 413
    assert api.call("POST", "/customers/tags/batch", {"customer_tokens": []})[0] == 400
    assert api.call("POST", "/customers/tags/batch", {"tokens": tokens[:2]})[0] == 400
    assert api.call("POST", "/customers/tags/batch", None, raw=b"{not json")[0] == 400
    assert api.call("POST", "/customers/tags/batch", None, raw=b"x" * 20_000)[0] == 413
    status, answer = api.call("POST", "/customers/tags/batch", {"customer_tokens": [tokens[0], "nope"]})
    assert status == 400 and "customer_tokens[1]" in answer["message"]


def test_without_an_api_key_the_answer_is_403(store: DuckDBTagStore, customers: list[tuple[str, int, str]]) -> None:
    api = api_over(store)
    event = api.event("GET", f"/customers/{customers[0][0]}/tags")
    del event["requestContext"]["identity"]["apiKeyId"]
    assert api.handler(event, local_context())["statusCode"] == 403


def test_every_served_relation_is_in_a_dataset_the_application_role_reads(
    dbt_manifest: dict,
) -> None:
    application = load_access().roles["application"]
    nodes = [n for n in dbt_manifest["nodes"].values() if n["resource_type"] in ("model", "seed")]
    for relation in SERVED_RELATIONS:
        node = next(n for n in nodes if n["alias"] == relation)
        assert node["config"]["meta"]["dataset"] in application.datasets, relation


def test_the_cache_refreshed_on_moto_answers_exactly_what_duckdb_answers(
    store: DuckDBTagStore, customers: list[tuple[str, int, str]]
) -> None:
    tokens = [c[0] for c in customers]
    now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_cache_table(client, "tags")
        first = refresh_cache(store.all_customer_tags(), client, "tags", now=now)
        assert (first.written, first.deleted) == (len(tokens), 0)
        items = client.scan(TableName="tags")["Items"]
        cached = api_over(DynamoTagStore(client, "tags"))
        local = api_over(store)
        for token in tokens[:20] + tokens[-5:] + [UNKNOWN]:
            assert cached.call("GET", f"/customers/{token}/tags") == local.call("GET", f"/customers/{token}/tags")
        for start in range(0, len(tokens), MAX_BATCH):
            body = {"customer_tokens": [*tokens[start : start + MAX_BATCH - 1], UNKNOWN]}
            assert cached.call("POST", "/customers/tags/batch", body) == local.call(
                "POST", "/customers/tags/batch", body
            )
        # Rerun: the same items, nothing deleted. A customer gone from the marts is deleted and then unknown.
        again = refresh_cache(store.all_customer_tags(), client, "tags", now=now)
        assert (again.written, again.deleted) == (len(tokens), 0)
        assert sorted(client.scan(TableName="tags")["Items"], key=str) == sorted(items, key=str)
        gone = tokens[3]
        later = refresh_cache((c for c in store.all_customer_tags() if c.customer_token != gone), client, "tags")
        assert (later.written, later.deleted) == (len(tokens) - 1, 1)
        assert cached.call("GET", f"/customers/{gone}/tags")[0] == 404


def test_the_portable_refresh_query_groups_into_what_the_duckdb_store_holds(
    built_project: Project, store: DuckDBTagStore
) -> None:
    """What `refresh-cache --from-athena` runs through PyAthena, run here through DuckDB's DB-API cursor."""
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        found = dict(con.execute("select table_name, table_schema from information_schema.tables").fetchall())
        names = {name: f'"{found[name]}".{name}' for name in SERVED_RELATIONS}
        assert list(customers_from_cursor(con.cursor(), names, chunk=97)) == list(store.all_customer_tags())
    assert athena_names("taglake_prod")["tag_catalog"] == "taglake_prod_reference.tag_catalog"


def test_the_lambda_handler_reads_the_cache_table_named_in_its_environment(
    store: DuckDBTagStore, customers: list[tuple[str, int, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from taglake.serve import app

    token = customers[0][0]
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv(app.CACHE_TABLE_ENV, "taglake-tag-cache-env")
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_cache_table(client, "taglake-tag-cache-env")
        refresh_cache(store.all_customer_tags(), client, "taglake-tag-cache-env")
        api = api_over(store)
        answer = app.handler(api.event("GET", f"/customers/{token}/tags"), local_context())
        app._default_handler.cache_clear()
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"]) == api.call("GET", f"/customers/{token}/tags")[1]


def test_taglake_serve_api_answers_over_http_on_127_0_0_1(
    built_project: Project, customers: list[tuple[str, int, str]]
) -> None:
    token = customers[0][0]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "taglake",
        "serve",
        "api",
        "--port",
        "0",
        "--duckdb",
        str(built_project.duckdb_path),
    ]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parents[2])
    try:
        assert server.stderr is not None
        line = server.stderr.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)/", line).group(1))  # type: ignore[union-attr]
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/customers/{token}/tags", timeout=10) as reply:
            assert reply.status == 200
            assert json.loads(reply.read())["tags"] == mart_rows(built_project, token)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/customers/A123456789/tags", timeout=10)
        assert refused.value.code == 400
        with urllib.request.urlopen(f"{base}/openapi.json", timeout=10) as reply:
            assert "/customers/{customer_token}/tags" in json.loads(reply.read())["paths"]
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert "A123456789" not in err and token not in err  # the console shows method and status, never a path


def test_taglake_serve_refresh_cache_writes_every_customer_and_refuses_a_missing_build(
    built_project: Project, customers: list[tuple[str, int, str]], tmp_path: Path
) -> None:
    done = run_taglake(["serve", "refresh-cache", "--moto", "--duckdb", str(built_project.duckdb_path)])
    assert done.returncode == 0, done.stderr
    assert f"{len(customers)} customers written, 0 stale deleted, as of {customers[0][2]}" in done.stdout
    missing = run_taglake(["serve", "refresh-cache", "--moto", "--duckdb", str(tmp_path / "none.duckdb")])
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert "taglake build" in missing.stderr
    athena = run_taglake(["serve", "refresh-cache", "--moto", "--from-athena"], env={"PATH": os.environ["PATH"]})
    assert athena.returncode == 2 and "TAGLAKE_ATHENA_SCHEMA" in athena.stderr


def test_the_retrieval_benchmark_runs_at_a_tiny_scale(tmp_path: Path) -> None:
    from taglake.bench.retrieval import format_retrieval_report, run_retrieval_benchmark

    out = tmp_path / "retrieval.json"
    catalog = Path(__file__).parents[2] / "seeds" / "tag_catalog.csv"
    result = run_retrieval_benchmark(tmp_path / "work", catalog, customers=300, lookups=30, batches=3, out_json=out)
    assert result.customers == 300 and result.tag_rows > 300
    assert len(result.latencies) == 6 and all(0 < lat.p50_ms <= lat.p99_ms for lat in result.latencies)
    assert json.loads(out.read_text())["customers"] == 300
    assert "p99" in format_retrieval_report(result)
    assert not any((tmp_path / "work").iterdir())  # the synthetic store is removed
