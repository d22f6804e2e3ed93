"""The tag retrieval API's data access: one interface (`TagStore.customer_tags`), two implementations.

- `DuckDBTagStore`: the local build, opened read-only (file, URL and extension access off), reading the three
  relations the application role may read (`SERVED_RELATIONS`, dataset `tag_serving` of `vars.access`).
- `DynamoTagStore`: the AWS read path, a DynamoDB table with one item per customer token (the customer's current
  tags as compact JSON and the as-of date), written by `refresh_cache` after each daily run (`taglake serve
  refresh-cache`). Why a cache and not Athena: docs/retrieval.md (an Athena query takes seconds; a GetItem
  milliseconds).

Nothing here takes or returns anything but customer tokens (keyed pseudonyms) and tag data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

# A customer token: lowercase hex SHA-256 (taglake.privacy.tokens.tokenize).
_TOKEN = re.compile(r"[0-9a-f]{64}", re.ASCII)

# What the API reads, by relation name, in the consumption layers; each is in the dataset the application role
# reads (vars.access: application → tag_serving), which a test checks against the build's manifest.
PROFILE = "customer_tag_profile_v1"
TAGS = "fct_customer_tags"
CATALOG = "tag_catalog"
SERVED_RELATIONS = (PROFILE, TAGS, CATALOG)

TOKEN_KEY = "customer_token"  # the DynamoDB table's partition key
DYNAMO_BATCH_GET = 100  # BatchGetItem's limit per call


def is_token(value: object) -> bool:
    return isinstance(value, str) and _TOKEN.fullmatch(value) is not None


@dataclass(frozen=True)
class TagHeld:
    tag_code: str  # the tag definition's id: its row in the tag catalog
    tag_family: str
    tag_name_en: str
    tag_name_zh: str
    tag_value: str
    tag_score: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tag_code": self.tag_code,
            "tag_family": self.tag_family,
            "tag_name_en": self.tag_name_en,
            "tag_name_zh": self.tag_name_zh,
            "tag_value": self.tag_value,
            "tag_score": self.tag_score,
        }


@dataclass(frozen=True)
class CustomerTags:
    customer_token: str
    as_of_date: date
    tags: tuple[TagHeld, ...]  # sorted by tag_code; empty for a known customer holding none

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_token": self.customer_token,
            "as_of_date": self.as_of_date.isoformat(),
            "tags": [t.as_dict() for t in self.tags],
        }


class TagStore(Protocol):
    def customer_tags(self, tokens: Sequence[str]) -> dict[str, CustomerTags]:
        """The current tags of each known token among `tokens` (already checked to be tokens); unknown ones are
        absent from the answer."""
        ...


class StoreError(RuntimeError):
    """The store cannot be opened or read (the message names the place and the fix, never a value)."""


# --- DuckDB (local) ------------------------------------------------------------------------------------------------

_LOCKED = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class DuckDBTagStore:
    """The local build, read once. Opening it (`with DuckDBTagStore(path, layers) as store:`) attaches the build
    read-only, copies each customer's current tags into an in-memory table (one row per customer token, sorted by
    token, the tags as a list) and detaches the build again: a running server never holds the build's file, so
    `taglake build` can rewrite it; the server answers what the build held when it started, as the AWS cache
    answers what the last refresh wrote. Each request is then one DuckDB query on that table."""

    def __init__(self, database: Path, consumption_layers: Sequence[str]) -> None:
        self.database = database
        self.layers = tuple(consumption_layers)
        self._con: Any = None

    def __enter__(self) -> DuckDBTagStore:
        import duckdb

        if not self.database.is_file():
            raise StoreError(f"no local build at {self.database}: run `taglake build` first")
        con = duckdb.connect(":memory:", config=dict(_LOCKED))
        try:
            path = "'" + str(self.database).replace("'", "''") + "'"
            con.execute(f"attach {path} as build (read_only)")
            found = con.execute(
                "select table_schema, table_name from information_schema.tables where table_catalog = 'build'"
            ).fetchall()
            names = {}
            for name in SERVED_RELATIONS:
                schemas = sorted(
                    s for s, t in found if t == name and any(s.lower().endswith(f"_{lay}") for lay in self.layers)
                )
                if len(schemas) != 1:
                    raise StoreError(
                        f"{self.database}: no single {name} in the consumption layers; run `taglake build`"
                    )
                names[name] = f"build.{_quote(schemas[0])}.{_quote(name)}"
            con.execute(
                "create table served as "
                "with held as ("
                "  select t.customer_token, list(struct_pack(tag_code := t.tag_code, tag_family := t.tag_family, "
                "    tag_name_en := c.tag_name_en, tag_name_zh := c.tag_name_zh, tag_value := t.tag_value, "
                "    tag_score := cast(t.tag_score as double)) order by t.tag_code) as tags "
                f"  from {names[TAGS]} as t left join {names[CATALOG]} as c on c.tag_code = t.tag_code "
                "  group by t.customer_token) "
                "select p.customer_token, p.as_of_date, coalesce(held.tags, []) as tags "
                f"from {names[PROFILE]} as p left join held on held.customer_token = p.customer_token "
                "order by p.customer_token"
            )
            con.execute("detach build")
            con.execute("set enable_external_access = false")
            con.execute("set lock_configuration = true")
        except duckdb.Error as exc:
            con.close()
            raise StoreError(
                f"{self.database}: cannot be read ({type(exc).__name__}); is a build writing it?"
            ) from None
        except StoreError:
            con.close()
            raise
        self._con = con
        return self

    def __exit__(self, *exc: object) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _open(self) -> Any:
        if self._con is None:
            raise StoreError("the DuckDB tag store is not open")
        return self._con

    def customer_tags(self, tokens: Sequence[str]) -> dict[str, CustomerTags]:
        wanted = sorted({t for t in tokens if is_token(t)})
        if not wanted:
            return {}
        select = "select customer_token, as_of_date, tags from served"
        cursor = self._open().cursor()  # a cursor per call: the local server may answer from several threads
        try:
            if len(wanted) == 1:
                rows = cursor.execute(f"{select} where customer_token = ?", wanted).fetchall()
            else:
                rows = cursor.execute(f"{select} where customer_token in (select unnest(?))", [wanted]).fetchall()
        finally:
            cursor.close()
        return {row[0]: _customer(row) for row in rows}

    def all_customer_tags(self) -> Iterator[CustomerTags]:
        """Every customer's current tags (what a cache refresh writes), in token order."""
        cursor = self._open().cursor()
        try:
            cursor.execute("select customer_token, as_of_date, tags from served order by customer_token")
            while chunk := cursor.fetchmany(10_000):
                yield from (_customer(row) for row in chunk)
        finally:
            cursor.close()


def _customer(row: tuple[Any, ...]) -> CustomerTags:
    token, as_of_date, tags = row
    return CustomerTags(token, as_of_date, tuple(TagHeld(**t) for t in tags))


# --- any SQL engine (Athena on AWS) --------------------------------------------------------------------------------


def served_sql(names: Mapping[str, str]) -> str:
    """Every customer's current tags as rows (token, as-of date, then one tag a row, or nulls for none), ordered by
    token: portable SQL over the served relations (`names`: relation → qualified name), for a refresh from Athena."""
    return (
        "select p.customer_token, p.as_of_date, t.tag_code, t.tag_family, c.tag_name_en, c.tag_name_zh, "
        f"t.tag_value, t.tag_score from {names[PROFILE]} as p "
        f"left join {names[TAGS]} as t on t.customer_token = p.customer_token "
        f"left join {names[CATALOG]} as c on c.tag_code = t.tag_code "
        "order by p.customer_token, t.tag_code"
    )


def athena_names(schema: str) -> dict[str, str]:
    """The served relations on Athena: the marts in `<schema>_marts`, the tag catalog seed in `<schema>_reference`
    (TAGLAKE_ATHENA_SCHEMA, as profiles.yml builds them)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,100}", schema, re.ASCII):
        raise StoreError("TAGLAKE_ATHENA_SCHEMA: a lowercase Glue database prefix (letters, digits, _)")
    return {
        PROFILE: f"{schema}_marts.{PROFILE}",
        TAGS: f"{schema}_marts.{TAGS}",
        CATALOG: f"{schema}_reference.{CATALOG}",
    }


def customers_from_cursor(cursor: Any, names: Mapping[str, str], chunk: int = 10_000) -> Iterator[CustomerTags]:
    """Run `served_sql` on a DB-API cursor (PyAthena's on AWS) and group its rows into customers, in token order."""
    cursor.execute(served_sql(names))
    token: str | None = None
    as_of: Any = None
    held: list[TagHeld] = []
    while rows := cursor.fetchmany(chunk):
        for row_token, as_of_date, code, family, name_en, name_zh, value, score in rows:
            if row_token != token:
                if token is not None:
                    yield CustomerTags(token, _as_date(as_of), tuple(held))
                token, as_of, held = row_token, as_of_date, []
            if code is not None:
                held.append(TagHeld(code, family, name_en, name_zh, value, None if score is None else float(score)))
    if token is not None:
        yield CustomerTags(token, _as_date(as_of), tuple(held))


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --- DynamoDB (the cache on AWS) -----------------------------------------------------------------------------------


def to_item(customer: CustomerTags, refreshed_at: datetime) -> dict[str, Any]:
    """The cache item of one customer (DynamoDB's typed JSON): the tags as one compact JSON string."""
    tags = json.dumps([t.as_dict() for t in customer.tags], ensure_ascii=False, separators=(",", ":"))
    return {
        TOKEN_KEY: {"S": customer.customer_token},
        "as_of_date": {"S": customer.as_of_date.isoformat()},
        "tags": {"S": tags},
        "refreshed_at": {"S": refreshed_at.astimezone(UTC).isoformat(timespec="seconds")},
    }


def from_item(item: Mapping[str, Any]) -> CustomerTags:
    tags = tuple(TagHeld(**t) for t in json.loads(item["tags"]["S"]))
    return CustomerTags(item[TOKEN_KEY]["S"], date.fromisoformat(item["as_of_date"]["S"]), tags)


class DynamoTagStore:
    """The cache: GetItem for one token, BatchGetItem (≤ 100 keys a call, unprocessed keys retried) for more."""

    def __init__(self, client: Any, table: str, *, max_retries: int = 5) -> None:
        self.client = client
        self.table = table
        self.max_retries = max_retries

    def customer_tags(self, tokens: Sequence[str]) -> dict[str, CustomerTags]:
        wanted = sorted({t for t in tokens if is_token(t)})
        if len(wanted) == 1:
            item = self.client.get_item(
                TableName=self.table, Key={TOKEN_KEY: {"S": wanted[0]}}, ConsistentRead=False
            ).get("Item")
            return {wanted[0]: from_item(item)} if item else {}
        found: dict[str, CustomerTags] = {}
        for start in range(0, len(wanted), DYNAMO_BATCH_GET):
            keys = [{TOKEN_KEY: {"S": t}} for t in wanted[start : start + DYNAMO_BATCH_GET]]
            request: dict[str, Any] = {self.table: {"Keys": keys}}
            for _ in range(self.max_retries + 1):
                answer = self.client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table, []):
                    customer = from_item(item)
                    found[customer.customer_token] = customer
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise StoreError(f"DynamoDB table {self.table}: keys left unprocessed after retries (throttled)")
        return found


def create_cache_table(client: Any, table: str) -> None:
    """The cache table as the stack declares it (on-demand, key customer_token): for moto and local runs."""
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": TOKEN_KEY, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": TOKEN_KEY, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


@dataclass(frozen=True)
class RefreshResult:
    written: int
    deleted: int
    as_of_date: date | None


def refresh_cache(
    customers: Iterable[CustomerTags], client: Any, table: str, *, now: datetime | None = None
) -> RefreshResult:
    """Write every customer's current tags into the cache (a put per customer, 25 a request), then delete the
    items of tokens no longer in the marts. Rerunning it writes the same items again: idempotent."""
    now = now or datetime.now(UTC)
    current: set[str] = set()
    as_of: date | None = None
    batch: list[dict[str, Any]] = []
    for customer in customers:
        current.add(customer.customer_token)
        as_of = max(as_of, customer.as_of_date) if as_of else customer.as_of_date
        batch.append({"PutRequest": {"Item": to_item(customer, now)}})
        if len(batch) == 25:
            _write(client, table, batch)
            batch = []
    if batch:
        _write(client, table, batch)
    stale: list[dict[str, Any]] = []
    deleted = 0
    for page in client.get_paginator("scan").paginate(TableName=table, ProjectionExpression=TOKEN_KEY):
        for item in page.get("Items", []):
            if item[TOKEN_KEY]["S"] not in current:
                stale.append({"DeleteRequest": {"Key": {TOKEN_KEY: item[TOKEN_KEY]}}})
    for start in range(0, len(stale), 25):
        _write(client, table, stale[start : start + 25])
        deleted += len(stale[start : start + 25])
    return RefreshResult(written=len(current), deleted=deleted, as_of_date=as_of)


def _write(client: Any, table: str, requests: list[dict[str, Any]], retries: int = 8) -> None:
    pending: dict[str, Any] = {table: requests}
    for _ in range(retries + 1):
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        if not pending:
            return
    raise StoreError(f"DynamoDB table {table}: writes left unprocessed after retries (throttled)")
