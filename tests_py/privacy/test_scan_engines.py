"""`taglake scan-pii --target redshift|athena`: the leak scan of the tables a build wrote on Redshift or Athena, done
in the engine against the raw zone's own tables, with counts coming back and nothing clear in the SQL or the output.

Redshift, live: a PostgreSQL server this module starts on 127.0.0.1 (tests_py/pg_server.py; Redshift speaks
PostgreSQL's wire protocol; PostgreSQL 15+ has Redshift's regexp_count and regexp_substr) holds the raw zone's
tables (`raw_crm.customers`, … as the Spectrum external schemas name them), the key relation and a few build
tables, one with planted leaks. Redshift's `json_extract_path_text(text, key, null_if_invalid)` is not
PostgreSQL's: a small SQL function of that signature stands in for it (in the search path's schema).
The command (`scan-pii`, taglake.ops.leak_scan: the engine scan over `taglake query`'s connections) is tested here
too, on the same tables. Athena: the generated SQL is checked as data (sqlglot, dialect athena), and its logic is
run through DuckDB (sqlglot's trino → duckdb transpile) over the same raw tables and planted leaks; PyAthena's calls
against moto. Athena itself is not run here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pg_server
import psycopg2
import pytest
import sqlglot
from pii_spellings import EMAILS, MOBILES, NATIONAL_IDS, NEGATIVES, positives

from taglake import cli
from taglake.core.sources import source_tables
from taglake.ops import leak_scan
from taglake.privacy.scan import engines
from taglake.privacy.scan.canaries import pii_fields
from taglake.privacy.scan.engines import Dialect, Relation, scan_engine

pytestmark = [pytest.mark.redteam, pytest.mark.leak_scan_engines]

SCHEMA = "tls"
NAME = "陳美玲"
K_INNER = "9f" * 32
K_OUTER = "3c1d" * 16
PLANTED = [p for p in positives() if p.kind in engines.WORD_KINDS]
CLEAN = ["高資產客戶", "VAL_HNW", "tok_" + "ab" * 30, "2026-10-31", NAME + "的帳戶"]  # a name inside text: no cell
LEAKY = [
    "ID：Ａ１２３４５６７８９",  # full-width
    "a123 456 789 called",  # spaced, lower case
    "note A123456789 B123456789",  # two words one space apart (the second is no canary)
    "call 0912-345-678",
    NAME,
    f"debug {K_INNER[:20].upper()}",
]
CLEAR_VALUES = [*NATIONAL_IDS, *MOBILES, *EMAILS, NAME, K_INNER, K_OUTER, K_INNER[:16], K_OUTER[:16]]


def _raw_tables() -> dict[str, list[str]]:
    """`schema.table` → the columns a raw table needs here: its fields of a scanned class (raw_line for JSON)."""
    out: dict[str, list[str]] = {}
    for table in source_tables().values():
        fields = [f for f, cls in pii_fields(table).items() if cls in engines.SCANNED_CLASSES]
        if fields:
            out[f"{table.schema}.{table.table}"] = ["raw_line"] if table.format == "jsonl" else fields
    return out


def _raw_rows() -> dict[str, list[tuple[str | None, ...]]]:
    """The raw zone: one customer per canary set, and an app event naming an ID in JSON."""
    rows: dict[str, list[tuple[str | None, ...]]] = {name: [] for name in _raw_tables()}
    rows["raw_crm.customers"] = [
        (nid, NAME if i == 0 else None, MOBILES[i % 2], EMAILS[i % 2]) for i, nid in enumerate(NATIONAL_IDS)
    ]
    rows["raw_digital.app_events"] = [(f'{{"national_id": "{NATIONAL_IDS[1]}"}}',), ("not json {",)]
    return rows


def _setup(cur: Any, text_type: str) -> None:
    for name, columns in _raw_tables().items():
        schema = name.split(".")[0]
        cur.execute(f"create schema if not exists {schema}")
        cur.execute(f"create table {name} ({', '.join(f'{c} {text_type}' for c in columns)})")
        for row in _raw_rows()[name]:
            cur.execute(f"insert into {name} values ({', '.join(['%s'] * len(row))})", row)
    cur.execute("create schema if not exists restricted_keys")
    cur.execute(f"create table restricted_keys.masking_keys (key_version {text_type}, k_inner {text_type}, "
                f"k_outer {text_type})")  # fmt: skip
    cur.execute("insert into restricted_keys.masking_keys values ('1', %s, %s)", (K_INNER, K_OUTER))
    cur.execute(f"create schema if not exists {SCHEMA}_marts")
    cur.execute(f"create table {SCHEMA}_marts.dim_clean (customer_token {text_type}, label {text_type}, n integer)")
    cur.execute(f"create table {SCHEMA}_marts.fct_leaky (note {text_type}, code {text_type})")
    cur.execute(f"create table {SCHEMA}_marts.fct_spellings (kind {text_type}, v {text_type})")
    cur.execute(f"create table {SCHEMA}_marts.fct_look_alikes (v {text_type})")
    for i, text in enumerate(CLEAN):
        cur.execute(f"insert into {SCHEMA}_marts.dim_clean values (%s, %s, %s)", (text, text, i))
    for text in LEAKY:
        cur.execute(f"insert into {SCHEMA}_marts.fct_leaky values (%s, 'X')", (text,))
    for p in PLANTED:
        cur.execute(f"insert into {SCHEMA}_marts.fct_spellings values (%s, %s)", (p.kind, p.text))
    for text in NEGATIVES:
        cur.execute(f"insert into {SCHEMA}_marts.fct_look_alikes values (%s)", (text,))


RELATIONS = [
    Relation(f"{SCHEMA}_marts", name, "marts")
    for name in ("dim_clean", "fct_leaky", "fct_spellings", "fct_look_alikes")
]


@pytest.fixture(scope="module")
def server() -> Iterator[pg_server.PgServer]:
    pg = pg_server.start()
    try:
        with (
            psycopg2.connect(
                host="127.0.0.1", port=pg.port, dbname="postgres", user=pg_server.USER, password=pg.password
            ) as con,
            con.cursor() as cur,
        ):
            _setup(cur, "text")
            cur.execute(
                f"create function {SCHEMA}_marts.json_extract_path_text(j text, k text, null_if_invalid boolean) "
                "returns text language plpgsql immutable as $$ begin return (j::json) ->> k; "
                "exception when others then return null; end $$"
            )
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def redshift_env(server: pg_server.PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in pg_server.redshift_target_env(server, SCHEMA).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TAGLAKE_SYSTEM_IDENTITY", raising=False)


def _redshift_runner() -> tuple[engines.Runner, Any]:
    from taglake.core.project import Project

    return leak_scan.connect_runner(Project.locate(), "redshift", "redshift")


def _by_place(hits: list[engines.Hit]) -> dict[tuple[str, str], int]:
    return {(h.where.removeprefix("relation "), h.kind): h.count for h in hits}


def _assert_found(found: dict[tuple[str, str], int], marts: str) -> None:
    leaky = {k: v for k, v in found.items() if k[0].startswith(f"{marts}.fct_leaky")}
    assert leaky == {
        (f"{marts}.fct_leaky.note", "national_id"): 3,
        (f"{marts}.fct_leaky.note", "mobile"): 1,
        (f"{marts}.fct_leaky.note", "name"): 1,
        (f"{marts}.fct_leaky.note", "key_material"): 1,
    }
    # every planted spelling of the shared corpus, each found once, in its kind
    for kind in engines.WORD_KINDS:
        planted = sum(1 for p in PLANTED if p.kind == kind)
        assert found.get((f"{marts}.fct_spellings.v", kind)) == planted, kind
    assert not [k for k in found if "dim_clean" in k[0] or "look_alikes" in k[0] or k[0].endswith(".kind")]


def test_the_redshift_scan_finds_each_planted_leak_by_count_and_passes_the_clean_tables(redshift_env: None) -> None:
    run, close = _redshift_runner()
    sent: list[str] = []
    try:
        hits = scan_engine("redshift", RELATIONS, run, sent=sent)
    finally:
        close()
    _assert_found(_by_place(hits), f"{SCHEMA}_marts")
    assert all(h.fingerprint == engines.NO_FINGERPRINT for h in hits)
    text = "\n".join(sent)
    assert len(sent) == 2 and "restricted_keys" in text and "raw_crm" in text
    for value in CLEAR_VALUES:  # no clear value and no key material in any SQL sent
        assert value.lower() not in text.lower()


def test_scan_pii_on_redshift_exits_1_with_counts_and_no_value(
    redshift_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(engines, "built_relations", lambda manifest, project_dir=None: RELATIONS[:2])
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}", encoding="utf-8")
    assert cli.main(["scan-pii", "--target", "redshift", "--manifest", str(manifest)]) == 1
    out = capsys.readouterr().out
    assert f"relation {SCHEMA}_marts.fct_leaky.note" in out and "national_id" in out and "key_material" in out
    assert "dim_clean" not in out
    for value in CLEAR_VALUES:
        assert value.lower() not in out.lower()
    # only the clean table: exit 0
    monkeypatch.setattr(engines, "built_relations", lambda manifest, project_dir=None: RELATIONS[:1])
    assert cli.main(["scan-pii", "--target", "redshift", "--manifest", str(manifest)]) == 0
    assert "no clear personal data" in capsys.readouterr().out


def test_a_relation_the_engine_does_not_have_is_refused_not_clean(
    redshift_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = [*RELATIONS, Relation(f"{SCHEMA}_marts", "never_built", "marts")]
    monkeypatch.setattr(engines, "built_relations", lambda manifest, project_dir=None: gone)
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}", encoding="utf-8")
    assert cli.main(["scan-pii", "--target", "redshift", "--manifest", str(manifest)]) == 2
    err = capsys.readouterr().err
    assert "never_built" in err and "(not scanned, not clean)" in err
    assert cli.main(["scan-pii", "--target", "redshift", "--manifest", str(tmp_path / "none.json")]) == 2
    assert "no manifest there" in capsys.readouterr().err


# ---- Athena: the SQL as data, and its logic through DuckDB --------------------------------------------------------


def _athena_sql() -> list[str]:
    sent: list[str] = []
    listed = [
        (r.schema, r.name, c, "varchar")
        for r in RELATIONS
        for c in {"dim_clean": ["customer_token", "label"], "fct_leaky": ["note", "code"]}.get(r.name, ["kind", "v"])
        if not (r.name == "fct_look_alikes" and c == "kind")
    ]

    def run(sql: str) -> list[tuple[Any, ...]]:
        sent.append(sql)
        return listed if sql.startswith("select table_schema") else []

    scan_engine("athena", RELATIONS, run)
    return sent


def test_the_athena_scan_sql_parses_as_athena_and_holds_no_value() -> None:
    sent = _athena_sql()
    assert len(sent) == 2
    for sql in sent:
        assert len(sqlglot.parse(sql, read="athena")) == 1
        for value in CLEAR_VALUES:
            assert value.lower() not in sql.lower()
    assert "regexp_extract_all" in sent[1] and "restricted_keys" in sent[1]


def test_the_athena_scan_logic_finds_the_planted_leaks_when_run_through_duckdb() -> None:
    """The same generated Trino SQL, transpiled to DuckDB, over the same raw zone, key and build tables."""
    sent = _athena_sql()
    con = duckdb.connect()
    try:
        cur = _DuckCursor(con)
        _setup(cur, "varchar")
        rows = con.execute(sqlglot.transpile(sent[1], read="trino", write="duckdb")[0]).fetchall()
    finally:
        con.close()
    listed = [tuple(r) for r in _listed_for_duckdb()]
    columns = engines.text_columns(RELATIONS, listed)
    _assert_found(_by_place(engines.hits_from_rows(columns, rows)), f"{SCHEMA}_marts")


def _listed_for_duckdb() -> list[tuple[str, str, str, str]]:
    return [
        (r.schema, r.name, c, "varchar")
        for r in RELATIONS
        for c in {"dim_clean": ["customer_token", "label"], "fct_leaky": ["note", "code"]}.get(r.name, ["kind", "v"])
        if not (r.name == "fct_look_alikes" and c == "kind")
    ]


class _DuckCursor:
    """psycopg2's `execute(sql, params)` with %s placeholders, on DuckDB."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        self.con.execute(sql.replace("%s", "?"), list(params))


def test_the_dialects_read_json_as_the_engine_macros_do() -> None:
    assert Dialect("athena").json_text('"raw_line"', "national_id") == (
        "try(json_extract_scalar(\"raw_line\", '$.national_id'))"
    )
    assert Dialect("redshift").json_text('"raw_line"', "national_id") == (
        "json_extract_path_text(\"raw_line\", 'national_id', true)"
    )


@pytest.mark.dbt  # the session build's manifest
def test_the_relations_scanned_are_the_manifests_in_the_layers_the_pipeline_builds(built_project) -> None:  # type: ignore[no-untyped-def]
    from taglake.privacy.access_policy import load_access

    relations = engines.built_relations(built_project.target_path / "manifest.json")
    layers = {r.layer for r in relations}
    assert layers == set(load_access().roles["pipeline"].builds)  # staging … snapshots; never the vault
    names = {r.name for r in relations}
    assert {"fct_customer_tags", "stg_crm__customers", "tag_catalog", "snap_customer_tags"} <= names
    assert not [r for r in relations if "vault" in r.schema or r.name.startswith("vault")]


def _athena_column(name: str, athena_type: str) -> dict[str, Any]:
    return {
        "CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": name, "Label": name, "Type": athena_type,
        "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": athena_type == "varchar",
    }  # fmt: skip


def test_scan_pii_on_athena_sends_its_two_queries_through_pyathena_and_reports_the_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The call plumbing only, against moto (which runs no SQL: each query is given a canned result in turn): the
    column listing, then the scan, through `taglake query`'s PyAthena connection; the report from the counts."""
    import boto3
    import requests
    from moto import mock_aws
    from offline_env import ATHENA_ENV

    from taglake.ops import query

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    for name, value in ATHENA_ENV.items():
        monkeypatch.setenv(name, value)
    region = ATHENA_ENV["TAGLAKE_AWS_REGION"]
    listing = [["table_schema", "table_name", "column_name", "data_type"], *map(list, _listed_for_duckdb())]
    counts = [["c", "kind", "n"], ["2", "national_id", "3"], ["2", "key_material", "1"]]
    canned = {
        "region": region,
        "results": [
            {
                "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in listing],
                "column_info": [_athena_column(n, "varchar") for n in listing[0]],
            },
            {
                "rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in counts],
                "column_info": [_athena_column("c", "integer"), _athena_column("kind", "varchar"),
                                _athena_column("n", "bigint")],
            },
        ],
    }  # fmt: skip
    sent: list[str] = []
    real_connection = query.athena_connection

    def connection(settings: query.AthenaSettings, **kwargs: Any) -> Any:
        session = boto3.Session(region_name=settings.region or region)
        session.events.register(
            "after-call.athena.GetQueryExecution", lambda parsed, **_: sent.append(parsed["QueryExecution"]["Query"])
        )
        return real_connection(settings, session=session, poll_seconds=0.01, **kwargs)

    monkeypatch.setattr(query, "athena_connection", connection)
    monkeypatch.setattr(engines, "built_relations", lambda manifest, project_dir=None: RELATIONS)
    manifest = tmp_path / "manifest.json"
    manifest.write_text("{}", encoding="utf-8")
    with mock_aws():
        assert requests.post("http://motoapi.amazonaws.com/moto-api/static/athena/query-results", json=canned).ok
        boto3.client("athena", region_name=region).create_work_group(
            Name=ATHENA_ENV["TAGLAKE_ATHENA_WORK_GROUP"], Configuration={}
        )
        assert cli.main(["scan-pii", "--target", "athena", "--manifest", str(manifest)]) == 1
    out = capsys.readouterr().out
    # column 2 of the listing is fct_leaky.note
    assert f"relation {SCHEMA}_marts.fct_leaky.note  national_id" in out and "key_material" in out
    queries = list(dict.fromkeys(sent))
    assert len(queries) == 2 and queries[0].startswith("select table_schema") and "regexp_extract_all" in queries[1]
    for value in CLEAR_VALUES:
        assert value.lower() not in "\n".join(queries).lower() and value.lower() not in out.lower()
