"""`taglake query`: analyses and ad hoc SQL on the local build (table and CSV), the Athena path against moto (result
pages, data scanned and its cost), and the vault guard."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
import requests
from moto import mock_aws
from offline_env import ATHENA_ENV

from taglake import cli
from taglake.core.project import Project
from taglake.ops import query

REGION = ATHENA_ENV["TAGLAKE_AWS_REGION"]
SPEND_BY_CATEGORY = """
    select
        spend_category,
        sum(case when not is_foreign then spend_twd else 0 end) as domestic_spend_twd,
        sum(case when is_foreign then spend_twd else 0 end) as foreign_spend_twd,
        sum(transaction_count) as transaction_count
    from taglake_marts.agg_card_spend_daily
    group by spend_category
    order by domestic_spend_twd + foreign_spend_twd desc
"""


@pytest.fixture
def as_built(built_project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The CLI pointed at the session's local build (its lake, database, artifacts and key)."""
    monkeypatch.setenv("TAGLAKE_LAKE_DIR", str(built_project.lake_dir))
    monkeypatch.setenv("TAGLAKE_DUCKDB_PATH", str(built_project.duckdb_path))
    monkeypatch.setenv("DBT_TARGET_PATH", str(built_project.target_path))
    monkeypatch.setenv("DBT_LOG_PATH", str(built_project.log_path))
    monkeypatch.setenv("TAGLAKE_KEY_FILE", str(built_project.key_file))
    monkeypatch.delenv("TAGLAKE_TARGET", raising=False)
    return built_project


def _direct(project: Project, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        rel = con.sql(sql)
        return list(rel.columns), rel.fetchall()


def _table_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


@pytest.mark.dbt
def test_an_analysis_prints_an_aligned_table_limited_to_the_rows_asked(
    as_built: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    columns, rows = _direct(as_built, SPEND_BY_CATEGORY)
    assert len(rows) > 3
    artifacts = {name: (as_built.target_path / name).read_bytes() for name in ("run_results.json", "manifest.json")}
    assert cli.main(["query", "card_spend_by_category", "--limit", "3"]) == 0
    # the analysis' compile leaves the last run's artifacts as they were (alerts, metrics, lineage read them)
    assert {name: (as_built.target_path / name).read_bytes() for name in artifacts} == artifacts
    lines = _table_lines(capsys.readouterr().out)
    assert lines[0].split() == columns
    assert set(lines[1].replace(" ", "")) == {"-"}
    shown = lines[2:5]
    assert [line.split()[0] for line in shown] == [r[0] for r in rows[:3]]
    assert shown[0].split()[-1] == f"{rows[0][-1]:,}"
    widths = {len(line) for line in lines[:5]}
    assert len(widths) == 1, "every line of the table is as wide as the header rule"
    assert lines[5] == f"… {len(rows) - 3:,} more rows (use --limit or --csv)"


@pytest.mark.dbt
def test_an_analysis_written_as_csv_holds_every_row(as_built: Project, tmp_path: Path) -> None:
    columns, rows = _direct(as_built, SPEND_BY_CATEGORY)
    out = tmp_path / "spend.csv"
    assert cli.main(["query", "card_spend_by_category", "--csv", str(out), "--limit", "1"]) == 0
    with out.open(newline="", encoding="utf-8") as fh:
        written = list(csv.reader(fh))
    assert written[0] == columns
    assert written[1:] == [[str(v) for v in row] for row in rows]


@pytest.mark.dbt
def test_ad_hoc_sql_runs_plain_or_with_a_ref(as_built: Project, capsys: pytest.CaptureFixture[str]) -> None:
    (expected,) = _direct(as_built, "select count(*) from taglake_marts.dim_customers")[1][0]
    assert cli.main(["query", "--sql", "select count(*) as customers from taglake_marts.dim_customers"]) == 0
    assert _table_lines(capsys.readouterr().out)[2].strip() == f"{expected:,}"
    assert cli.main(["query", "--sql", "select count(*) as customers from {{ ref('dim_customers') }}"]) == 0
    assert _table_lines(capsys.readouterr().out)[2].strip() == f"{expected:,}"


def test_sql_naming_the_vault_is_refused_outside_the_system_targets(capsys: pytest.CaptureFixture[str]) -> None:
    project = Project.locate()
    vault_sql = "select count(*) from taglake_vault.vault_customer_identities"
    for target in ("local", "athena", "redshift"):
        with pytest.raises(query.QueryRefused):
            query.resolve_sql(project, target, sql=vault_sql)
        with pytest.raises(query.QueryRefused):
            query.run_query(project, target, vault_sql)
    assert query.resolve_sql(project, "local_system", sql=vault_sql) == vault_sql
    assert cli.main(["query", "--target", "athena", "--sql", "select * from TAGLAKE_VAULT.x"]) == 2
    err = capsys.readouterr().err
    assert "system account" in err and len(err.splitlines()) == 1


def test_an_unknown_analysis_names_the_ones_there_are() -> None:
    with pytest.raises(FileNotFoundError, match="card_spend_by_category"):
        query.resolve_sql(Project.locate(), "local", analysis="no_such_analysis")


def test_athena_cost_is_billed_per_megabyte_with_a_ten_megabyte_minimum() -> None:
    assert query.athena_cost_usd(0) == query.athena_cost_usd(10 * 1024**2) == pytest.approx(10 / 1024**2 * 5)
    assert query.athena_cost_usd(1024**4) == pytest.approx(5.0)
    assert query.athena_cost_usd(1024**4 + 1, usd_per_tb=6.25) == pytest.approx((1024**2 + 1) / 1024**2 * 6.25)


# ---- Athena, against moto ---------------------------------------------------------------------------------------

SCANNED = 3_500_000_000  # bytes: 3,338 MB billed, USD 0.015917 at USD 5 per TB


def _column(name: str, athena_type: str) -> dict[str, Any]:
    """A column of an Athena result set as Athena describes it (PyAthena reads every field)."""
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": athena_type,
        "Precision": 0,
        "Scale": 0,
        "Nullable": "UNKNOWN",
        "CaseSensitive": athena_type == "varchar",
    }


@pytest.fixture
def athena(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """moto's Athena with a canned result and a data-scanned figure; yields the SQL each execution was given."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    for name, value in ATHENA_ENV.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        header = ["spend_category", "transaction_count"]
        data = [header, ["dining", "1200"], ["travel", "35"], ["online", None]]
        canned = {
            "region": REGION,
            "results": [
                {
                    "rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in data],
                    "column_info": [
                        _column("spend_category", "varchar"),
                        _column("transaction_count", "bigint"),
                    ],
                }
            ],
        }
        # moto's documented way to give Athena queries a result (Athena itself runs nothing under moto).
        resp = requests.post("http://motoapi.amazonaws.com/moto-api/static/athena/query-results", json=canned)
        assert resp.status_code == 201
        workgroup = ATHENA_ENV["TAGLAKE_ATHENA_WORK_GROUP"]
        boto3.client("athena", region_name=REGION).create_work_group(Name=workgroup, Configuration={})
        seen: list[str] = []
        real_connection = query.athena_connection

        def connection(settings: query.AthenaSettings, **kwargs: Any) -> Any:
            session = boto3.Session(region_name=settings.region or REGION)

            def statistics(parsed: dict[str, Any], **_: Any) -> None:
                execution = parsed["QueryExecution"]
                execution["Statistics"]["DataScannedInBytes"] = SCANNED
                seen.append(execution["Query"])

            session.events.register("after-call.athena.GetQueryExecution", statistics)
            return real_connection(settings, session=session, poll_seconds=0.01, **kwargs)

        monkeypatch.setattr(query, "athena_connection", connection)
        yield seen


def test_athena_query_prints_the_result_the_data_scanned_and_its_cost(
    athena: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    sql = "select spend_category, transaction_count from taglake_marts.agg_card_spend_daily"
    assert cli.main(["query", "--target", "athena", "--sql", sql]) == 0
    lines = _table_lines(capsys.readouterr().out)
    assert lines[0].split() == ["spend_category", "transaction_count"]
    assert [line.split() for line in lines[2:5]] == [["dining", "1,200"], ["travel", "35"], ["online"]]
    assert lines[5] == (
        "data scanned: 3,500,000,000 bytes; cost: USD 0.015917 at USD 5 per TB (billed per MB, 10 MB minimum)"
    )
    assert athena == [sql]


def test_athena_query_runs_in_the_workgroup_and_writes_csv(athena: list[str], tmp_path: Path) -> None:
    client = boto3.client("athena", region_name=REGION)
    client.create_work_group(Name="analysts", Configuration={})
    settings = query.athena_settings("athena", workgroup="analysts", output_location="s3://results/analysts/")
    connection = query.athena_connection(settings)
    result = query.run_query(Project.locate(), "athena", "select 1", connection=connection)
    assert result.rows == [("dining", 1200), ("travel", 35), ("online", None)]
    assert result.scanned_bytes == SCANNED
    execution = client.get_query_execution(QueryExecutionId=result.query_id)["QueryExecution"]
    assert execution["WorkGroup"] == "analysts"
    assert execution["ResultConfiguration"]["OutputLocation"].startswith("s3://results/analysts/")
    assert execution["QueryExecutionContext"]["Database"] == "taglake_marts"
    out = tmp_path / "r.csv"
    query.write_csv(result, out)
    assert out.read_text(encoding="utf-8").splitlines() == [
        "spend_category,transaction_count",
        "dining,1200",
        "travel,35",
        "online,",
    ]


@pytest.mark.dbt
def test_an_analysis_is_compiled_for_athena_before_it_runs(
    as_built: Project, athena: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["query", "card_spend_by_category", "--target", "athena", "--usd-per-tb", "6.25"]) == 0
    (sent,) = athena
    assert "agg_card_spend_daily" in sent and "{{" not in sent
    assert "awsdatacatalog" in sent  # the Athena adapter's catalog: compiled for athena, not for DuckDB
    assert "at USD 6.25 per TB" in capsys.readouterr().out


def _stubbed_connection() -> Any:
    """A PyAthena connection whose boto3 client botocore's Stubber answers: real Athena answers QUEUED and RUNNING
    before SUCCEEDED and pages a large result (moto does neither); the Stubber plays those answers in order and
    fails on any call not expected."""
    session = boto3.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    settings = query.AthenaSettings(region=REGION, workgroup="wg", output_location="s3://results/")
    return query.athena_connection(settings, session=session, poll_seconds=0.01)


def test_athena_results_are_read_page_by_page_after_polling_until_done() -> None:
    from botocore.stub import Stubber

    connection = _stubbed_connection()
    columns = [_column("n", "integer"), _column("amount", "decimal")]

    def page(rows: list[list[str]], token: str | None) -> dict[str, Any]:
        result = {
            "ResultSet": {
                "Rows": [{"Data": [{"VarCharValue": v} for v in row]} for row in rows],
                "ResultSetMetadata": {"ColumnInfo": columns},
            }
        }
        return {**result, "NextToken": token} if token else result

    def execution(state: str) -> dict[str, Any]:
        return {
            "QueryExecution": {
                "QueryExecutionId": "q1",
                "Query": "select 1",
                "StatementType": "DML",
                "Status": {"State": state},
                "Statistics": {"DataScannedInBytes": 42},
                "ResultConfiguration": {"OutputLocation": "s3://results/q1.csv"},
            }
        }

    with Stubber(connection.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q1"})
        stub.add_response("get_query_execution", execution("QUEUED"), {"QueryExecutionId": "q1"})
        stub.add_response("get_query_execution", execution("RUNNING"), {"QueryExecutionId": "q1"})
        stub.add_response("get_query_execution", execution("SUCCEEDED"), {"QueryExecutionId": "q1"})
        stub.add_response("get_query_results", page([["n", "amount"], ["1", "10.50"]], "t2"))
        stub.add_response("get_query_results", page([["2", "0.25"]], None))
        result = query.run_athena(connection, "select 1")
        stub.assert_no_pending_responses()
    assert result.columns == ["n", "amount"]
    assert result.rows == [(1, Decimal("10.50")), (2, Decimal("0.25"))]  # the second page's first row is data
    assert result.scanned_bytes == 42 and result.query_id == "q1"


def test_a_failed_athena_query_names_its_error_code_and_no_value() -> None:
    from botocore.stub import Stubber

    connection = _stubbed_connection()
    reason = "TABLE_NOT_FOUND: line 1:15: Table 'A123456789' does not exist"
    failed = {
        "QueryExecution": {
            "QueryExecutionId": "q2",
            "Query": "select * from x",
            "StatementType": "DML",
            "Status": {"State": "FAILED", "StateChangeReason": reason},
        }
    }
    with Stubber(connection.client) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q2"})
        stub.add_response("get_query_execution", failed)
        with pytest.raises(query.QueryFailed) as raised:
            query.run_athena(connection, "select * from x")
    assert "TABLE_NOT_FOUND" in str(raised.value) and "A123456789" not in str(raised.value)


# ---- Athena: the SQL is checked as data before anything is sent -----------------------------------------------------

ATHENA_REFUSED = {
    "unload": "unload (select * from taglake_marts.dim_customers) to 's3://elsewhere/' with (format = 'csv')",
    "create table as": "create table taglake_marts.copy as select * from taglake_marts.dim_customers",
    "insert": "insert into taglake_marts.dim_customers select * from taglake_marts.dim_customers",
    "drop": "drop table taglake_marts.dim_customers",
    "two statements": "select 1; select 2",
    "a raw table": "select * from raw_crm.customers",
    "a raw table in the catalog": 'select * from "awsdatacatalog"."RAW_CRM"."customers"',
    "staging": "select * from taglake_staging.stg_crm__customers",
    "intermediate": "select * from taglake_intermediate.int_customer_features_joined",
    "the vault": "select * from taglake_vault.vault_customer_identities",
    "a staging table spelt in upper case": 'select * from "TAGLAKE_STAGING"."STG_CRM__CUSTOMERS"',
    "the key table": "select * from restricted_keys.masking_keys",
    "the key table unqualified": "select * from masking_keys",
    "information_schema": "select * from information_schema.tables",
    "another database": "select * from other_marts_copy.dim_customers",
    "another catalog": "select * from hive.taglake_marts.dim_customers",
    "a table function": "select * from table(exclude_columns(input => table(taglake_marts.dim_customers)))",
    "a staging table inside a CTE": "with c as (select * from taglake_staging.stg_crm__customers) select * from c",
    "a staging table in a subquery": "select * from (select * from taglake_staging.stg_crm__customers) as s",
    "show": "show tables in taglake_staging",
    "does not parse": "select from where",
}


@pytest.mark.redteam
@pytest.mark.parametrize("case", list(ATHENA_REFUSED))
def test_athena_sql_outside_the_consumption_layers_is_refused_before_it_is_sent(
    case: str, athena: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["query", "--target", "athena", "--sql", ATHENA_REFUSED[case]]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("taglake query: "), err
    assert athena == [], "sent to Athena"


@pytest.mark.parametrize(
    "sql",
    [
        "select count(*) from dim_customers",
        'select count(*) from "awsdatacatalog"."taglake_marts"."dim_customers"',
        "select * from taglake_reference.tag_catalog",
        "with t as (select * from taglake_marts.fct_customer_tags) select tag_code, count(*) from t group by 1",
        "select c.city from taglake_marts.dim_customers c join taglake_reference.tag_catalog t on true",
        "select x from unnest(array[1, 2]) as u(x)",
        "select customer_token, tag_codes from taglake_snapshots.snap_customer_tags where dbt_valid_to is null",
        'select count(*) from "awsdatacatalog"."taglake_snapshots"."snap_model_scores"',
    ],
)
def test_athena_sql_over_the_consumption_layers_is_sent(sql: str, athena: list[str]) -> None:
    assert cli.main(["query", "--target", "athena", "--sql", sql]) == 0
    assert athena == [sql]


def test_ad_hoc_refs_resolve_to_the_athena_consumption_layers_without_dbt(athena: list[str]) -> None:
    sql = (
        "select * from {{ ref('customer_tag_profile') }} join {{ ref('tag_catalog') }} on true "
        "join {{ ref('snap_customer_tags') }} on true"
    )
    assert cli.main(["query", "--target", "athena", "--sql", sql]) == 0
    assert athena == [
        'select * from "awsdatacatalog"."taglake_marts"."customer_tag_profile_v1" join '
        '"awsdatacatalog"."taglake_reference"."tag_catalog" on true join '
        '"awsdatacatalog"."taglake_snapshots"."snap_customer_tags" on true'
    ]
