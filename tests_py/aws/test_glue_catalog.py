"""`taglake catalog` and `taglake upload` against moto (in-process S3 and Glue): the Glue tables say what the source
YAML says, a second run changes nothing, a column added to the YAML updates only its table, and the lake lands in
S3 with the keys the tables point at."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from taglake import cli
from taglake.aws.glue_catalog import plan_catalog, sync_catalog
from taglake.aws.s3_upload import lake_files, local_etag, remote_objects, upload_lake
from taglake.core.checkout import find_project_dir
from taglake.lake.generate import generate_lake

REGION = "ap-northeast-1"
BUCKET = "bank-lake-raw"
KEYS = "s3://bank-restricted-keys/restricted_keys/masking_keys/"
SERDES = {
    "csv": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
    "parquet": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    "jsonl": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


class CallLog:
    """The Glue operations a client made, by name (botocore's before-call event)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[str] = []
        client.meta.events.register("before-call.glue.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def count(self, operation: str) -> int:
        return self.calls.count(operation)


def _is_partition(column: dict[str, Any]) -> bool:
    return bool(((column.get("config") or {}).get("meta") or {}).get("partition_key"))


def _declared(project_dir: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(database, table) → what the source YAML declares, read straight from the YAML files."""
    found = {}
    for path in sorted((project_dir / "models" / "staging").glob("*/_*__sources.yml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            source_meta = (source.get("config") or {}).get("meta") or {}
            for table in source["tables"]:
                meta = {**source_meta, **((table.get("config") or {}).get("meta") or {})}
                meta.update(meta.get("restricted_file") or {})  # the masking key, outside the lake
                if "format" not in meta:
                    continue
                columns = table["columns"]
                found[(source["schema"], table["name"])] = {
                    "meta": meta,
                    "columns": [(c["name"], c["data_type"]) for c in columns if not _is_partition(c)],
                    "partitions": [(c["name"], c["data_type"]) for c in columns if _is_partition(c)],
                    "prefix": f"{meta.get('raw_prefix', source['name'])}/{table['name']}",
                }
    return found


def _sync(project_dir: Path | None = None) -> tuple[list[tuple[str, str]], CallLog, Any]:
    glue = boto3.client("glue", region_name=REGION)
    log = CallLog(glue)
    plan = plan_catalog(bucket=BUCKET, prefix="raw", keys_location=KEYS, project_dir=project_dir)
    return sync_catalog(glue, plan), log, glue


def test_catalog_registers_every_source_table_as_the_yaml_declares_it(aws: None) -> None:
    report, _, glue = _sync()
    declared = _declared(find_project_dir())
    assert {name for name, _ in report if "." in name} == {f"{db}.{t}" for db, t in declared}
    assert all(result == "created" for _, result in report)
    for (database, name), spec in declared.items():
        table = glue.get_table(DatabaseName=database, Name=name)["Table"]
        sd = table["StorageDescriptor"]
        assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
            (n, t.replace(", ", ",")) for n, t in spec["columns"]
        ], name
        assert [(c["Name"], c["Type"]) for c in table.get("PartitionKeys", [])] == spec["partitions"]
        assert sd["SerdeInfo"]["SerializationLibrary"] == SERDES[spec["meta"]["format"]]
        params = table["Parameters"]
        if spec["meta"].get("restricted_file"):
            assert sd["Location"] == KEYS
            assert "projection.enabled" not in params
        else:
            location = f"s3://{BUCKET}/raw/{spec['prefix']}/"
            assert sd["Location"] == location
            assert params["projection.enabled"] == "true"
            assert params["projection.year.range"] == spec["meta"]["partition_years"]
            assert params["storage.location.template"] == location + "year=${year}/month=${month}/day=${day}/"
        header = (spec["meta"].get("format_options") or {}).get("header_lines")
        assert params.get("skip.header.line.count") == (str(header) if header else None)

    # A few facts spelled out, so that a wrong reading of the YAML cannot pass unnoticed.
    customers = glue.get_table(DatabaseName="raw_crm", Name="customers")["Table"]
    assert customers["StorageDescriptor"]["Location"] == "s3://bank-lake-raw/raw/crm/customers/"
    assert customers["StorageDescriptor"]["SerdeInfo"]["Parameters"]["separatorChar"] == ","
    assert customers["Parameters"]["skip.header.line.count"] == "1"
    assert customers["StorageDescriptor"]["Columns"][0]["Name"] == "national_id"
    transactions = glue.get_table(DatabaseName="raw_cards", Name="transactions")["Table"]
    types = {c["Name"]: c["Type"] for c in transactions["StorageDescriptor"]["Columns"]}
    assert types["amount"] == "decimal(18,2)" and types["transaction_at"] == "timestamp"
    assert transactions["Parameters"]["projection.month.digits"] == "2"
    assert [c["Name"] for c in transactions["PartitionKeys"]] == ["year", "month", "day"]
    events = glue.get_table(DatabaseName="raw_digital", Name="app_events")["Table"]
    assert [(c["Name"], c["Type"]) for c in events["StorageDescriptor"]["Columns"]] == [("raw_line", "string")]
    assert events["StorageDescriptor"]["SerdeInfo"]["Parameters"]["field.delim"] == "\x01"
    assert events["StorageDescriptor"]["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert glue.get_database(Name="restricted_keys")["Database"]["Name"] == "restricted_keys"


def test_a_second_catalog_run_changes_nothing(aws: None) -> None:
    _sync()
    report, log, _ = _sync()
    assert report and all(result == "unchanged" for _, result in report)
    assert log.count("UpdateTable") == log.count("CreateTable") == log.count("UpdateDatabase") == 0
    assert log.count("GetTable") == len([n for n, _ in report if "." in n])


def test_a_column_added_to_the_yaml_updates_that_table_only(aws: None, tmp_path: Path) -> None:
    _sync()
    copy = tmp_path / "project"
    shutil.copytree(find_project_dir() / "models" / "staging", copy / "models" / "staging")
    path = copy / "models" / "staging" / "ml" / "_ml__sources.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    columns = doc["sources"][0]["tables"][0]["columns"]
    first_partition = next(i for i, c in enumerate(columns) if _is_partition(c))
    columns.insert(first_partition, {"name": "score_band", "data_type": "string", "description": "Decile."})
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")

    report, log, glue = _sync(copy)
    results = dict(report)
    assert results.pop("raw_ml.model_scores") == "updated"
    assert set(results.values()) == {"unchanged"}
    assert log.count("UpdateTable") == 1
    columns_now = glue.get_table(DatabaseName="raw_ml", Name="model_scores")["Table"]["StorageDescriptor"]["Columns"]
    assert columns_now[-1] == {"Name": "score_band", "Type": "string", "Comment": "Decile."}


def test_a_table_is_updated_when_glue_holds_a_setting_the_yaml_no_longer_implies(aws: None) -> None:
    _, _, glue = _sync()
    table = glue.get_table(DatabaseName="raw_cards", Name="transactions")["Table"]
    stale = {**table["Parameters"], "skip.header.line.count": "1", "owner.note": "set by a person"}
    keep = ("Name", "TableType", "StorageDescriptor", "PartitionKeys", "Description")
    glue.update_table(DatabaseName="raw_cards", TableInput={**{k: table[k] for k in keep}, "Parameters": stale})
    report, log, glue = _sync()
    assert dict(report)["raw_cards.transactions"] == "updated" and log.count("UpdateTable") == 1
    params = glue.get_table(DatabaseName="raw_cards", Name="transactions")["Table"]["Parameters"]
    assert "skip.header.line.count" not in params
    assert params["owner.note"] == "set by a person"
    assert _sync()[0] == [(name, "unchanged") for name, _ in report]


def test_catalog_without_a_key_location_leaves_the_key_table_out(aws: None) -> None:
    plan = plan_catalog(bucket=BUCKET)
    assert "restricted_keys" not in plan.databases
    assert all(database.startswith("raw_") for database, _ in plan.tables)


def test_the_key_table_may_not_point_into_the_raw_zone() -> None:
    with pytest.raises(ValueError, match="outside the raw zone"):
        plan_catalog(bucket=BUCKET, keys_location=f"s3://{BUCKET}/raw/restricted_keys/masking_keys/")
    with pytest.raises(ValueError, match="outside the raw zone"):
        plan_catalog(bucket=BUCKET, keys_location="restricted_keys/masking_keys/")


def test_catalog_dry_run_prints_the_table_inputs_and_calls_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["catalog", "--bucket", BUCKET, "--dry-run", "--database", "raw_crm=prod_raw_crm"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert "prod_raw_crm" in printed["databases"] and "raw_crm" not in printed["databases"]
    names = {(database, table["Name"]) for database, table in printed["tables"]}
    assert ("prod_raw_crm", "customers") in names and ("raw_cards", "transactions") in names


def test_catalog_command_reports_created_then_unchanged(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["catalog", "--bucket", BUCKET, "--region", REGION, "--keys-location", KEYS]
    assert cli.main(args) == 0
    first = capsys.readouterr().out
    assert cli.main(args) == 0
    second = capsys.readouterr().out
    assert "raw_crm.customers" in first and "created" in first and "unchanged" not in first
    assert "restricted_keys.masking_keys" in second and "created" not in second and "updated" not in second


# ---- upload -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("upload") / "lake"
    generate_lake(lake, customers=60, days=3, seed=11, progress=False)
    # A key file where a careless copy could put one: neither may ever be uploaded.
    for secret in (lake / ".secrets" / "masking_keys.csv", lake / "raw" / ".secrets" / "masking_keys.csv"):
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_text("key_version,k_inner,k_outer\n1,aa,bb\n", encoding="utf-8")
    return lake


def _raw_files(lake: Path) -> dict[str, int]:
    raw = lake / "raw"
    return {
        p.relative_to(raw).as_posix(): p.stat().st_size
        for p in raw.rglob("*")
        if p.is_file() and ".secrets" not in p.parts
    }


def test_upload_puts_the_raw_zone_under_the_prefix_and_never_a_key(aws: None, small_lake: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    report = upload_lake(s3, small_lake, BUCKET, "raw")
    listed = {key: size for key, (size, _) in remote_objects(s3, BUCKET, "").items()}
    expected = {f"raw/{rel}": size for rel, size in _raw_files(small_lake).items()}
    assert listed == expected
    assert sorted(report.uploaded) == sorted(expected) and not report.skipped
    assert not any("masking_keys" in key or ".secrets" in key for key in listed)
    assert any(key.startswith("raw/crm/customers/year=") and key.endswith(".csv") for key in listed)
    # The keys match the Glue locations: every raw table's files are under its table location.
    for _, table in plan_catalog(bucket=BUCKET).tables:
        location = table["StorageDescriptor"]["Location"].removeprefix(f"s3://{BUCKET}/")
        assert any(key.startswith(location + "year=") for key in listed), location


def test_a_second_upload_uploads_nothing_and_a_changed_file_goes_again(aws: None, small_lake: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    first = upload_lake(s3, small_lake, BUCKET, "raw")
    second = upload_lake(s3, small_lake, BUCKET, "raw")
    assert second.uploaded == [] and sorted(second.skipped) == sorted(first.uploaded)

    changed = next(p for p, _ in lake_files(small_lake) if p.suffix == ".jsonl")
    original = changed.read_bytes()
    try:
        changed.write_bytes(original + b"\n")
        third = upload_lake(s3, small_lake, BUCKET, "raw")
    finally:
        changed.write_bytes(original)
    assert third.uploaded == ["raw/" + changed.relative_to(small_lake / "raw").as_posix()]


def test_local_etag_matches_s3_for_a_file_uploaded_in_parts(aws: None, tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    lake = tmp_path / "lake"
    big = lake / "raw" / "cards" / "transactions" / "year=2026" / "month=01" / "day=01" / "big.parquet"
    big.parent.mkdir(parents=True)
    big.write_bytes(bytes(range(256)) * (9 * 4096))  # 9 MiB: two parts
    upload_lake(s3, lake, BUCKET, "raw")
    etag = remote_objects(s3, BUCKET, "raw/")["raw/cards/transactions/year=2026/month=01/day=01/big.parquet"][1]
    assert etag.endswith("-2") and etag == local_etag(big)
    assert upload_lake(s3, lake, BUCKET, "raw").uploaded == []


def test_an_object_whose_etag_is_not_an_md5_is_recognised_by_its_recorded_etag(aws: None, tmp_path: Path) -> None:
    """With SSE-KMS, S3's ETag is not the content's MD5: the ETag recorded at upload decides."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    lake = tmp_path / "lake"
    path = lake / "raw" / "ml" / "model_scores" / "year=2026" / "month=01" / "day=01" / "model_scores_20260101.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"0123456789")
    key = "raw/ml/model_scores/year=2026/month=01/day=01/model_scores_20260101.parquet"
    # Same size, other bytes (so another ETag), but the metadata of an upload of this very file: skipped.
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"abcdefghij", Metadata={"taglake-etag": local_etag(path)})
    assert upload_lake(s3, lake, BUCKET, "raw").skipped == [key]
    # Same size, other bytes, no such metadata: uploaded again.
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"abcdefghij")
    assert upload_lake(s3, lake, BUCKET, "raw").uploaded == [key]
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"0123456789"


def test_a_key_file_under_any_name_is_never_uploaded(aws: None, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    folder = lake / "raw" / "crm" / "customers" / "year=2026" / "month=01" / "day=01"
    folder.mkdir(parents=True)
    (folder / "customers_20260101.csv").write_text("national_id\n", encoding="utf-8")
    (folder / "copy.csv").write_text("key_version,k_inner,k_outer\n1,aa,bb\n", encoding="utf-8")
    assert [rel for _, rel in lake_files(lake)] == ["crm/customers/year=2026/month=01/day=01/customers_20260101.csv"]
