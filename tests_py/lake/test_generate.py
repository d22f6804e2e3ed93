"""The generator's contract: determinism, layout, parameters, and what it may delete."""

import json
import re
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from raw_lake import partition_files, read_file, sha256_tree

from taglake.lake.generate import SCALES, generate_lake
from taglake.lake.raw_tables import MODEL_OUTCOMES, MODEL_SCORES, TABLES, TRANSACTIONS, WALLET_COLUMN

SMALL = {"customers": 300, "days": 10, "defect_rate": 0.05, "progress": False}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    out = tmp_path_factory.mktemp("lake")
    manifest = generate_lake(out, **SMALL)
    return out, manifest


def test_same_seed_gives_byte_identical_files(lake, tmp_path):
    first, _ = lake
    again = tmp_path / "again"
    generate_lake(again, **SMALL)
    assert sha256_tree(first) == sha256_tree(again)


def test_a_different_seed_changes_every_file_that_has_records(lake, tmp_path):
    first, manifest = lake
    other = tmp_path / "other"
    other_manifest = generate_lake(other, seed=7, **SMALL)
    assert other_manifest["seed"] == 7 and manifest["seed"] == 42
    a, b = sha256_tree(first), sha256_tree(other)
    assert a.keys() == b.keys()  # same layout …
    same = [path for path in a if a[path] == b[path]]
    for path in same:  # … and only files without records may coincide
        spec = next(t for t in TABLES if f"/{t.source}/{t.table}/" in f"/{path}")
        assert read_file(spec, first / path) == [], path


def test_every_file_sits_in_a_zero_padded_landing_partition(lake):
    out, manifest = lake
    start = date.fromisoformat(manifest["params"]["start_date"])
    end = date.fromisoformat(manifest["params"]["end_date"])
    assert (end - start).days + 1 == SMALL["days"]
    pattern = re.compile(
        r"raw/(?P<source>\w+)/(?P<table>\w+)/year=(?P<y>\d{4})/month=(?P<m>\d{2})/day=(?P<d>\d{2})/"
        r"(?P<stem>\w+)_(?P<ymd>\d{8})\.(?P<ext>csv|parquet|jsonl)"
    )
    files = [p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()]
    assert "manifest.json" in files
    for rel in files:
        if rel == "manifest.json":
            continue
        m = pattern.fullmatch(rel)
        assert m, rel
        spec = next(t for t in TABLES if (t.source, t.table) == (m["source"], m["table"]))
        assert m["stem"] == spec.table and m["ext"] == spec.format
        assert m["ymd"] == m["y"] + m["m"] + m["d"]
        assert start <= date(int(m["y"]), int(m["m"]), int(m["d"])) <= end


def test_one_file_per_partition_and_a_partition_every_landing_day(lake):
    out, manifest = lake
    start = date.fromisoformat(manifest["params"]["start_date"])
    every_day = [start + timedelta(days=n) for n in range(SMALL["days"])]
    for spec in TABLES:
        days = [d for d, _ in partition_files(out, spec)]
        assert len(days) == len(set(days)), f"{spec.name}: more than one file in a partition"
        for _, path in partition_files(out, spec):
            assert [p.name for p in path.parent.iterdir()] == [path.name]
        assert manifest["tables"][spec.name]["files"] == len(days)
        if spec is MODEL_SCORES:  # the first day, then the first of each month
            assert days == [d for d in every_day if d == start or d.day == 1]
        elif spec is MODEL_OUTCOMES:  # a week after each scoring run, when that is inside the history
            runs = [d for d in every_day if d == start or d.day == 1]
            assert days == [d for d in every_day if d - timedelta(days=7) in runs]
        else:
            assert days == every_day


def test_transactions_gain_wallet_type_where_the_manifest_says(lake):
    out, manifest = lake
    (change,) = manifest["schema_changes"]
    assert (change["table"], change["column"]) == (TRANSACTIONS.name, WALLET_COLUMN)
    first = date.fromisoformat(change["first_partition"])
    files = partition_files(out, TRANSACTIONS)
    assert files[0][0] < first <= files[-1][0]
    base = {
        "transaction_id": pa.string(),
        "card_id": pa.string(),
        "national_id": pa.string(),
        "transaction_at": pa.timestamp("us"),
        "amount": pa.decimal128(18, 2),
        "currency": pa.string(),
        "merchant_category_code": pa.string(),
        "merchant_country": pa.string(),
        "channel": pa.string(),
    }
    for day, path in files:
        schema = pq.read_schema(path)
        want = dict(base, **({WALLET_COLUMN: pa.string()} if day >= first else {}))
        assert schema.names == list(want), day
        assert [schema.field(n).type for n in schema.names] == list(want.values()), day


def test_model_scores_parquet_types(lake):
    out, _ = lake
    for _, path in partition_files(out, MODEL_SCORES):
        schema = pq.read_schema(path)
        assert schema.names == list(MODEL_SCORES.columns)
        assert [schema.field(n).type for n in schema.names] == [
            pa.string(),
            pa.string(),
            pa.string(),
            pa.timestamp("us"),
            pa.float64(),
        ]


def test_manifest_file_is_the_returned_manifest(lake):
    out, manifest = lake
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8")) == manifest
    assert manifest["params"] == {
        "customers": 300,
        "days": 10,
        "start_date": "2026-10-22",
        "end_date": "2026-10-31",
        "defect_rate": 0.05,
        "appended_days": 0,
        "last_date": "2026-10-31",
    }
    for spec in TABLES:
        assert list(manifest["tables"][spec.name]["defects"]) == list(spec.defect_kinds)


def test_regenerating_replaces_only_raw_and_the_manifest(tmp_path):
    keep = tmp_path / "notes.txt"
    keep.write_text("mine")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.csv").write_text("x")
    stale = tmp_path / "raw" / "crm" / "stale_table" / "old.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("old")
    (tmp_path / "manifest.json").write_text("{}")
    generate_lake(tmp_path, customers=20, days=2, progress=False)
    assert keep.read_text() == "mine"
    assert (tmp_path / "other" / "x.csv").read_text() == "x"
    assert not stale.exists()
    assert json.loads((tmp_path / "manifest.json").read_text())["params"]["customers"] == 20


def test_scales_are_the_documented_ones():
    assert {k: (v.customers, v.days) for k, v in SCALES.items()} == {
        "small": (2_000, 40),
        "medium": (100_000, 90),
        "large": (1_000_000, 365),
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": "huge"}, "unknown scale 'huge'"),
        ({"defect_rate": -0.01}, "defect_rate must be a number in"),
        ({"defect_rate": 0.21}, "defect_rate must be a number in"),
        ({"defect_rate": "0.1"}, "defect_rate must be a number in"),
        ({"days": 0}, "days must be between 1"),
        ({"days": 2.5}, "days must be an integer"),
        ({"customers": 9}, "customers must be between 10"),
        ({"customers": 10_000_000}, "customers must be between"),
        ({"seed": -1}, "seed must be an integer"),
        ({"seed": "42"}, "seed must be an integer"),
        ({"end_date": "2026-10-31"}, "end_date must be a date"),
        ({"end_date": datetime(2026, 10, 31)}, "end_date must be a date"),
    ],
)
def test_bad_parameters_raise_a_clear_value_error(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_lake(tmp_path / "lake", progress=False, **{"customers": 20, "days": 2, **kwargs})
    assert not (tmp_path / "lake").exists()  # nothing written or deleted


def test_progress_bar_goes_to_stderr(tmp_path, capsys):
    generate_lake(tmp_path, customers=20, days=2, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "2/2" in captured.err


def test_worker_processes_write_the_same_bytes_as_one_process(lake, tmp_path, monkeypatch):
    import taglake.lake.generate as generate

    monkeypatch.setattr(generate, "PARALLEL_MIN_CUSTOMER_DAYS", 0)
    monkeypatch.setattr(generate.os, "cpu_count", lambda: 2)
    assert (
        generate.worker_count(
            generate.resolve_params(
                scale="small", customers=300, days=10, seed=42, end_date=date(2026, 10, 31), defect_rate=0.05
            )
        )
        == 2
    )
    first, _ = lake
    parallel = tmp_path / "parallel"
    generate_lake(parallel, **SMALL)
    assert sha256_tree(first) == sha256_tree(parallel)


def test_the_small_lake_is_long_enough_for_every_tag_window() -> None:
    """DIG_APP_DORMANT needs an app user idle for `tag_app_dormant_min_days`: on a lake no longer than that, no one
    can hold it and the build's holders check warns only because the lake is short (not because a rule broke)."""
    import yaml

    from taglake.core.project import Project

    dbt_vars = yaml.safe_load((Project.locate().root / "dbt_project.yml").read_text(encoding="utf-8"))["vars"]
    # the newest landing is day days-1; a user whose last session is on day d is idle days-1-d days
    assert SCALES["small"].days - 1 - dbt_vars["tag_app_dormant_min_days"] >= 5


def test_a_lake_shorter_than_a_week_still_holds_the_first_runs_outcomes(tmp_path):
    manifest = generate_lake(tmp_path, customers=40, days=3, progress=False)
    days = [d for d, _ in partition_files(tmp_path, MODEL_OUTCOMES)]
    assert days == [date.fromisoformat(manifest["params"]["end_date"])]
    assert manifest["tables"][MODEL_OUTCOMES.name]["expected"]["accepted"] > 0
