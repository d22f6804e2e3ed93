"""Every defect the manifest counts is recounted from the files alone, with plain Python."""

import json
from collections import Counter
from datetime import date

import pytest
from raw_lake import defects_of, iso_utc, partition_files, read_file, read_records

from taglake.lake import national_id
from taglake.lake.generate import generate_lake
from taglake.lake.raw_tables import (
    ACCEPTED_KINDS,
    APP_EVENTS,
    CUSTOMERS,
    quarantine_kinds,
    TABLES,
    TRANSACTIONS,
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    out = tmp_path_factory.mktemp("lake")
    manifest = generate_lake(out, customers=300, days=10, defect_rate=0.05, progress=False)
    return out, manifest


def identity(spec, value):
    """The record's full content (what 'byte-identical' compares) and its key."""
    if spec is APP_EVENTS:
        return value, json.loads(value)["event_id"]
    content = tuple(value.get(c) for c in spec.columns)
    return content, tuple(value[c] for c in spec.key)


def business_date(spec, value) -> date:
    if spec is TRANSACTIONS:
        return value["transaction_at"].date()
    return iso_utc(json.loads(value)["event_at"]).date()


def recount(lake_dir, spec) -> tuple[dict[str, int], dict[str, int], int]:
    """(defects by kind, expected block, rows) from the files alone."""
    records = read_records(lake_dir, spec)
    counts: Counter[str] = Counter()
    clean = []
    for rec in records:
        found = defects_of(spec, rec.value)
        assert len(found) <= 1, f"{spec.name}: a record with several defects {found}: {rec.value!r}"
        if found:
            counts[found[0]] += 1
        else:
            clean.append(rec)
    first_landing: dict = {}
    for rec in clean:
        content, key = identity(spec, rec.value)
        first_landing.setdefault(content, (rec.landing, key, rec.value))
    keys = {key for _, key, _ in first_landing.values()}
    counts["exact_duplicate"] = len(clean) - len(first_landing)
    if "newer_version" in spec.defect_kinds:
        counts["newer_version"] = len(first_landing) - len(keys)
    else:
        assert len(first_landing) == len(keys), f"{spec.name}: two different records share a key"
    if "late_arrival" in spec.defect_kinds:
        counts["late_arrival"] = sum(
            landing > business_date(spec, value) for landing, _, value in first_landing.values()
        )
        assert all(landing >= business_date(spec, v) for landing, _, v in first_landing.values())
    quarantined = sum(n for k, n in counts.items() if k in quarantine_kinds())
    collapsed = counts["exact_duplicate"] + counts["newer_version"]
    expected = {"accepted": len(keys), "collapsed": collapsed, "quarantined": quarantined}
    return {k: counts[k] for k in spec.defect_kinds}, expected, len(records)


@pytest.mark.parametrize("spec", TABLES, ids=lambda t: t.name)
def test_manifest_defect_counts_match_a_recount_of_the_files(lake, spec):
    out, manifest = lake
    entry = manifest["tables"][spec.name]
    defects, expected, rows = recount(out, spec)
    assert entry["defects"] == defects
    assert entry["expected"] == expected
    assert entry["rows"] == rows


@pytest.mark.parametrize("spec", TABLES, ids=lambda t: t.name)
def test_rows_add_up_over_partitions_and_dispositions(lake, spec):
    out, manifest = lake
    entry = manifest["tables"][spec.name]
    per_partition = [len(read_file(spec, path)) for _, path in partition_files(out, spec)]
    assert entry["rows"] == sum(per_partition)
    assert entry["rows"] == sum(entry["expected"].values())
    assert entry["expected"]["quarantined"] == sum(n for k, n in entry["defects"].items() if k in quarantine_kinds())
    assert entry["expected"]["collapsed"] == sum(
        n for k, n in entry["defects"].items() if k not in quarantine_kinds() and k not in ACCEPTED_KINDS
    )


@pytest.mark.parametrize("spec", TABLES, ids=lambda t: t.name)
def test_every_defect_kind_is_injected_at_five_percent(lake, spec):
    _, manifest = lake
    defects = manifest["tables"][spec.name]["defects"]
    assert all(n > 0 for n in defects.values()), defects


def test_defective_share_follows_the_defect_rate(lake):
    _, manifest = lake
    for name, entry in manifest["tables"].items():
        injected = sum(n for k, n in entry["defects"].items() if k != "newer_version")
        share = injected / entry["rows"]
        assert 0.02 < share < 0.08, (name, share)


def test_every_customer_is_accepted_once(lake):
    _, manifest = lake
    assert manifest["tables"][CUSTOMERS.name]["expected"]["accepted"] == manifest["params"]["customers"]


def test_national_ids_pass_the_checksum_except_the_injected_invalid_ones(lake):
    out, manifest = lake
    invalid: Counter[str] = Counter()
    for spec in TABLES:
        for rec in read_records(out, spec):
            if spec is APP_EVENTS:
                try:
                    value = json.loads(rec.value).get("national_id")
                except json.JSONDecodeError:
                    continue
            else:
                value = rec.value["national_id"]
            if value in (None, ""):
                continue
            if not national_id.is_valid(value):
                invalid[spec.name] += 1
    assert invalid == {CUSTOMERS.name: manifest["tables"][CUSTOMERS.name]["defects"]["invalid_checksum"]}


def test_no_defects_at_rate_zero_except_normal_newer_versions(tmp_path):
    manifest = generate_lake(tmp_path, customers=200, days=5, defect_rate=0.0, progress=False)
    for name, entry in manifest["tables"].items():
        for kind, n in entry["defects"].items():
            assert n == 0 or kind == "newer_version", (name, kind, n)
        assert entry["expected"]["quarantined"] == 0
    for spec in TABLES:
        defects, expected, _ = recount(tmp_path, spec)
        assert manifest["tables"][spec.name]["defects"] == defects
        assert manifest["tables"][spec.name]["expected"] == expected
