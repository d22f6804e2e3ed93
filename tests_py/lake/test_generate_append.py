"""`taglake generate --append-day`: the next landing day of an existing lake, its manifest exact after the append."""

from __future__ import annotations

import json
from datetime import date

import pytest
from raw_lake import partition_files, sha256_tree
from test_generate_defects import recount

from taglake.lake.generate import append_days, generate_lake, params_from_manifest
from taglake.lake.params import LakeParams
from taglake.lake.raw_tables import CUSTOMERS, MODEL_SCORES, TABLES, TRANSACTIONS

LAKE = {"customers": 300, "days": 10, "defect_rate": 0.05}  # ends 2026-10-31: the first appended day is the 1st


@pytest.fixture(scope="module")
def appended(tmp_path_factory):
    """(base lake's files, appended lake folder, manifest after appending two days)."""
    out = tmp_path_factory.mktemp("appended")
    generate_lake(out, progress=False, **LAKE)
    before = sha256_tree(out / "raw")
    manifest = append_days(out, count=2, progress=False)
    return before, out, manifest


def test_appending_never_changes_a_file_already_written(appended):
    before, out, _ = appended
    after = sha256_tree(out / "raw")
    assert {path: after[path] for path in before} == before
    new = set(after) - set(before)
    assert new and all("/month=11/day=0" in path for path in new)


@pytest.mark.parametrize("spec", TABLES, ids=lambda t: t.name)
def test_the_manifest_after_an_append_matches_a_recount_of_the_files(appended, spec):
    _, out, manifest = appended
    defects, expected, rows = recount(out, spec)
    entry = manifest["tables"][spec.name]
    assert entry["defects"] == defects
    assert entry["expected"] == expected
    assert entry["rows"] == rows
    assert entry["files"] == len(partition_files(out, spec))


def test_the_appended_days_bring_new_and_changed_customers_transactions_and_scores(appended):
    _, out, manifest = appended
    params = manifest["params"]
    assert params["appended_days"] == 2 and params["last_date"] == "2026-11-02"
    assert params["days"] == LAKE["days"] and params["end_date"] == "2026-10-31"
    landed = {d for d, _ in partition_files(out, TRANSACTIONS)}
    assert {date(2026, 11, 1), date(2026, 11, 2)} <= landed
    scored = {d for d, _ in partition_files(out, MODEL_SCORES)}
    assert date(2026, 11, 1) in scored and date(2026, 11, 2) not in scored  # scoring runs on the 1st
    # one new customer a day at this size, every one accepted once
    population = LakeParams(**{**_base(manifest), "appended_days": 2}).population
    assert population == LAKE["customers"] + 2
    assert manifest["tables"][CUSTOMERS.name]["expected"]["accepted"] == population


def _base(manifest: dict) -> dict:
    p = params_from_manifest(manifest)
    return {
        "seed": p.seed,
        "customers": p.customers,
        "days": p.days,
        "end_date": p.end_date,
        "defect_rate": p.defect_rate,
    }


def test_appending_is_deterministic_one_day_at_a_time_or_together(appended, tmp_path):
    _, out, manifest = appended
    other = tmp_path / "lake"
    generate_lake(other, progress=False, **LAKE)
    append_days(other, progress=False)
    second = append_days(other, progress=False)
    assert sha256_tree(other / "raw") == sha256_tree(out / "raw")
    assert second == manifest
    assert json.loads((other / "manifest.json").read_text(encoding="utf-8")) == second


def test_appending_to_a_folder_without_a_lake_is_refused(tmp_path):
    with pytest.raises(ValueError, match="no lake to append to"):
        append_days(tmp_path / "nothing", progress=False)
    with pytest.raises(ValueError, match="count"):
        append_days(tmp_path, count=0, progress=False)
