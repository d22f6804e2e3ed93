"""The generated files have exactly the columns the dbt source YAMLs declare (partition columns aside)."""

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
import raw_lake as expected
from raw_lake import csv_header, partition_files, read_file

from taglake.lake.generate import generate_lake
from taglake.lake.raw_tables import APP_EVENTS, TABLES, WALLET_COLUMN

PROJECT = Path(__file__).resolve().parents[2]
PARTITION_COLUMNS = {"year", "month", "day"}


def source_table(spec) -> dict:
    path = PROJECT / "models" / "staging" / spec.source / f"_{spec.source}__sources.yml"
    assert path.exists(), f"{path.relative_to(PROJECT)}: every raw table's source has its sources YAML"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    source = next(s for s in doc["sources"] if s["name"] == spec.source)
    return next(t for t in source["tables"] if t["name"] == spec.table)


def declared_columns(table: dict) -> list[str]:
    return [c["name"] for c in table.get("columns", []) if c["name"] not in PARTITION_COLUMNS]


def table_meta(table: dict) -> dict:
    return {**table.get("meta", {}), **table.get("config", {}).get("meta", {})}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    out = tmp_path_factory.mktemp("lake")
    generate_lake(out, customers=100, days=5, defect_rate=0.05, progress=False)
    return out


@pytest.mark.parametrize("spec", [t for t in TABLES if t.format == "csv"], ids=lambda t: t.name)
def test_csv_headers_equal_the_declared_columns(lake, spec):
    declared = declared_columns(source_table(spec))
    assert declared == list(spec.columns)
    for _, path in partition_files(lake, spec):
        assert csv_header(path) == declared, path


@pytest.mark.parametrize("spec", [t for t in TABLES if t.format == "parquet"], ids=lambda t: t.name)
def test_parquet_columns_equal_the_declared_columns(lake, spec):
    declared = declared_columns(source_table(spec))
    assert declared == list(spec.columns)
    files = partition_files(lake, spec)
    assert pq.read_schema(files[-1][1]).names == declared  # the newest file has every column
    for _, path in files:
        names = pq.read_schema(path).names
        assert names in (declared, [c for c in declared if c != WALLET_COLUMN]), path


def test_json_keys_equal_the_declared_json_keys(lake):
    table = source_table(APP_EVENTS)
    assert declared_columns(table) == ["raw_line"]
    keys = [k["name"] for k in table_meta(table)["json_keys"]]
    assert keys == list(APP_EVENTS.columns)
    complete = 0
    for _, path in partition_files(lake, APP_EVENTS):
        for line in read_file(APP_EVENTS, path):
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            assert set(event) <= set(keys), line
            if set(event) == set(keys):
                complete += 1
                assert list(event) == keys
                assert list(event["device"]) == list(expected.DEVICE_KEYS)
    assert complete > 0
