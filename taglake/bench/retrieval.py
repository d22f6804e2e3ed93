"""`taglake bench retrieval`: the tag retrieval API's latency over a realistic number of customers.

A synthetic store of `customers` tokens (each holding a few of the catalog's active tags, as the marts hold them)
is written as a DuckDB file laid out as a build's consumption layer, and refreshed into moto's DynamoDB in this
process exactly as `taglake serve refresh-cache` fills the real cache. Then `lookups` random known tokens are asked
for, one request each, and `batches` batches of MAX_BATCH tokens, through (a) the DuckDB store alone, (b) the
Lambda handler over DuckDB, (c) the Lambda handler over the DynamoDB cache; each latency is measured on this
machine's monotonic clock and reported as p50 / p99. moto answers in-process, so (c) is the handler's own cost plus
moto's; a real DynamoDB GetItem adds its network round trip (docs/retrieval.md puts the numbers side by side).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

CONSUMPTION_LAYERS = ("marts", "reference")


@dataclass(frozen=True)
class Latency:
    path: str
    requests: int
    p50_ms: float
    p99_ms: float
    mean_ms: float


@dataclass(frozen=True)
class RetrievalBench:
    customers: int
    tag_rows: int
    lookups: int
    batches: int
    store_build_s: float
    cache_refresh_s: float
    latencies: tuple[Latency, ...]
    machine: str


def _percentile(sorted_ms: Sequence[float], q: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return sorted_ms[index]


def _timed(path: str, calls: Sequence[Callable[[], Any]]) -> Latency:
    times: list[float] = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return Latency(path, len(times), round(_percentile(times, 0.5), 3), round(_percentile(times, 0.99), 3),
                   round(sum(times) / len(times), 3))  # fmt: skip


def write_synthetic_store(database: Path, catalog_csv: Path, customers: int, seed: int) -> tuple[int, list[str]]:
    """A DuckDB file with the three served relations (schemas bench_marts, bench_reference) for `customers`
    synthetic tokens, each holding about four active tags; returns the number of tag rows and the tokens."""
    import duckdb

    with catalog_csv.open(encoding="utf-8", newline="") as fh:
        catalog = [r for r in csv.DictReader(fh) if r["status"] == "active"]
    database.unlink(missing_ok=True)
    with duckdb.connect(str(database)) as con:
        con.execute("create schema bench_marts")
        con.execute("create schema bench_reference")
        con.execute(
            "create table bench_reference.tag_catalog (tag_code varchar, tag_name_zh varchar, tag_name_en varchar, "
            "tag_family varchar)"
        )
        con.executemany(
            "insert into bench_reference.tag_catalog values (?, ?, ?, ?)",
            [(r["tag_code"], r["tag_name_zh"], r["tag_name_en"], r["tag_family"]) for r in catalog],
        )
        con.execute(f"select setseed({(seed % 1000) / 1000})")
        con.execute(
            "create table bench_marts.customer_tag_profile_v1 as select sha256('bench-' || i::varchar) as "
            f"customer_token, date '2026-11-30' as as_of_date from range({int(customers)}) as t(i)"
        )
        # Each (customer, tag) pair held with probability 4 / number of tags: about 4 tags a customer.
        con.execute(
            "create table bench_marts.fct_customer_tags as select p.customer_token, c.tag_code, c.tag_family, "
            "case when c.tag_family = 'model' then 'high' else 'Y' end as tag_value, "
            "case when c.tag_family = 'model' then round(random(), 4) end as tag_score, p.as_of_date "
            "from bench_marts.customer_tag_profile_v1 as p cross join bench_reference.tag_catalog as c "
            f"where random() < {4 / max(1, len(catalog))}"
        )
        rows = con.execute("select count(*) from bench_marts.fct_customer_tags").fetchone()
        tokens = [
            r[0] for r in con.execute("select customer_token from bench_marts.customer_tag_profile_v1").fetchall()
        ]
        return int(rows[0]) if rows else 0, tokens


def _event(path: str, body: str | None, method: str) -> dict[str, Any]:
    from taglake.serve.local import rest_event

    return rest_event(method, path, {"content-type": "application/json"}, (body or "").encode())


def run_retrieval_benchmark(
    work_dir: Path,
    catalog_csv: Path,
    *,
    customers: int = 100_000,
    lookups: int = 2_000,
    batches: int = 100,
    seed: int = 15,
    out_json: Path | None = None,
) -> RetrievalBench:
    import boto3
    from aws_lambda_powertools import Logger, Metrics
    from moto import mock_aws

    from taglake.serve.app import MAX_BATCH, SERVICE, Retriever, make_handler
    from taglake.serve.local import local_context
    from taglake.serve.store import DuckDBTagStore, DynamoTagStore, TagStore, create_cache_table, refresh_cache

    work_dir.mkdir(parents=True, exist_ok=True)
    database = work_dir / "retrieval_bench.duckdb"
    start = time.perf_counter()
    tag_rows, tokens = write_synthetic_store(database, catalog_csv, customers, seed)
    built = time.perf_counter() - start
    rng = random.Random(seed)
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - closed below; the handler logs and metrics go here
    latencies: list[Latency] = []
    try:
        with DuckDBTagStore(database, CONSUMPTION_LAYERS) as duck, mock_aws():
            asked = [rng.choice(tokens) for _ in range(lookups)]
            groups = [[rng.choice(tokens) for _ in range(MAX_BATCH)] for _ in range(batches)]
            client = boto3.client("dynamodb", region_name="ap-northeast-1")
            create_cache_table(client, "bench-tag-cache")
            start = time.perf_counter()
            refresh_cache(duck.all_customer_tags(), client, "bench-tag-cache")
            refreshed = time.perf_counter() - start
            dynamo = DynamoTagStore(client, "bench-tag-cache")

            def handler_over(store: TagStore) -> Callable[[dict[str, Any]], dict[str, Any]]:
                quiet = Logger(service=f"{SERVICE}-bench-{uuid.uuid4().hex}", stream=sink)
                handle = make_handler(
                    Retriever(store=store, logger=quiet, metrics=Metrics(namespace="bench", service=SERVICE))
                )
                context = local_context()
                return lambda event: handle(event, context)

            latencies.append(_timed("duckdb store, one token", [lambda t=t: duck.customer_tags([t]) for t in asked]))
            latencies.append(_timed("dynamodb store (moto), one token",
                                    [lambda t=t: dynamo.customer_tags([t]) for t in asked]))  # fmt: skip
            from contextlib import redirect_stdout

            with redirect_stdout(sink):  # Powertools prints each call's metrics (EMF) to stdout
                for name, store in (("duckdb", duck), ("dynamodb (moto)", dynamo)):
                    handle = handler_over(store)
                    one = [_event(f"/customers/{t}/tags", None, "GET") for t in asked]
                    many = [_event("/customers/tags/batch", json.dumps({"customer_tokens": g}), "POST") for g in groups]
                    for event in one[:20]:  # warm-up: the first calls build the resolver's caches
                        handle(event)
                    latencies.append(_timed(f"Lambda handler over {name}, GET one token",
                                            [lambda e=e, h=handle: _ok(h(e)) for e in one]))  # fmt: skip
                    latencies.append(_timed(f"Lambda handler over {name}, POST batch of {MAX_BATCH}",
                                            [lambda e=e, h=handle: _ok(h(e)) for e in many]))  # fmt: skip
    finally:
        sink.close()
        for leftover in (database, database.with_name(database.name + ".wal")):
            leftover.unlink(missing_ok=True)
    result = RetrievalBench(
        customers=customers,
        tag_rows=tag_rows,
        lookups=lookups,
        batches=batches,
        store_build_s=round(built, 2),
        cache_refresh_s=round(refreshed, 2),
        latencies=tuple(latencies),
        machine=f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    )
    if out_json is not None:
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    return result


def _ok(answer: dict[str, Any]) -> None:
    if answer.get("statusCode") != 200:
        raise RuntimeError(f"the benchmark's request was answered {answer.get('statusCode')}, not 200")


def format_retrieval_report(result: RetrievalBench) -> str:
    out = io.StringIO()
    out.write(f"tag retrieval: {result.customers} customers, {result.tag_rows} tag rows ({result.machine})\n")
    out.write(f"store written in {result.store_build_s} s; cache refreshed into moto in {result.cache_refresh_s} s\n")
    width = max(len(lat.path) for lat in result.latencies)
    out.write(f"{'path'.ljust(width)}  requests   p50 ms   p99 ms  mean ms\n")
    for lat in result.latencies:
        out.write(
            f"{lat.path.ljust(width)}  {lat.requests:8d} {lat.p50_ms:8.3f} {lat.p99_ms:8.3f} {lat.mean_ms:8.3f}\n"
        )
    return out.getvalue().rstrip("\n")
