"""The tag domain: the catalog, the rules, their unit tests, docs and the profile all name the same tags."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from project_copy import copy_project, dbt

from taglake.core.project import Project
from taglake.privacy.dbt_runner import prepare_local

pytestmark = pytest.mark.dbt

CATALOG = Path("seeds/tag_catalog.csv")
CATALOG_CHECK = ("tag_catalog", "assert_tag_catalog_matches_producers")


def _catalog(root: Path) -> list[dict[str, str]]:
    with (root / CATALOG).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _active_codes(root: Path) -> set[str]:
    return {row["tag_code"] for row in _catalog(root) if row["status"] == "active"}


def test_the_catalog_has_at_least_fifteen_tags_in_every_family(built_project: Project) -> None:
    rows = _catalog(built_project.root)
    assert len(_active_codes(built_project.root)) >= 15
    families = {row["tag_family"] for row in rows if row["status"] == "active"}
    assert families == {"value", "lifecycle", "card", "digital", "risk", "model"}
    for row in rows:
        assert all(row[field].strip() for field in row), f"{row['tag_code']}: a field is blank"
        assert re.fullmatch(r"[A-Z]+(_[A-Z]+)+", row["tag_code"]), row["tag_code"]


def test_every_active_tag_has_a_unit_test_that_expects_it(dbt_manifest: dict, built_project: Project) -> None:
    expected: dict[str, set[str]] = {}
    for test in dbt_manifest["unit_tests"].values():
        for row in test["expect"]["rows"] or []:
            if "tag_code" in row:  # a tag model's unit test (other models have theirs: model performance, …)
                expected.setdefault(row["tag_code"], set()).add(test["name"])
    missing = sorted(_active_codes(built_project.root) - expected.keys())
    assert not missing, f"active tags without a unit test expecting them: {missing}"
    # And each tag's own unit test is named after it, so a reader finds it.
    for code in _active_codes(built_project.root):
        assert f"test_tag_{code.lower()}" in expected[code], code


def test_every_unit_test_passed_in_the_build(build_run_results: dict) -> None:
    unit = [r for r in build_run_results["results"] if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= 18
    assert {r["status"] for r in unit} == {"pass"}


def test_moving_a_threshold_by_one_cent_fails_its_unit_test(built_project: Project, tmp_path: Path) -> None:
    """The unit tests pin the rule at its threshold: they are not tests that cannot fail."""
    env = built_project.dbt_env("local") | {"DBT_TARGET_PATH": str(tmp_path / "target")}
    select = ("test", "--select", "test_tag_val_hnw")
    passing = dbt(built_project, *select, env=env)
    assert passing.returncode == 0, passing.stdout[-2000:]
    failing = dbt(built_project, *select, "--vars", json.dumps({"tag_hnw_min_aum_twd": 3000000.01}), env=env)
    assert failing.returncode != 0
    assert "FAIL" in failing.stdout and "test_tag_val_hnw" in failing.stdout


def test_every_catalog_tag_has_a_docs_block_and_no_other(dbt_manifest: dict, built_project: Project) -> None:
    blocks = {doc["name"] for doc in dbt_manifest["docs"].values() if doc["package_name"] == "taglake"}
    tag_blocks = {name for name in blocks if name.startswith("tag_") and name != "tag_columns"}
    assert tag_blocks == {f"tag_{row['tag_code'].lower()}" for row in _catalog(built_project.root)}


def test_the_profile_has_one_column_per_active_tag(dbt_manifest: dict, built_project: Project) -> None:
    profile = next(n for n in dbt_manifest["nodes"].values() if n["name"] == "customer_tag_profile")
    by_tag = {c["meta"]["tag_code"]: name for name, c in profile["columns"].items() if c["meta"].get("tag_code")}
    assert set(by_tag) == _active_codes(built_project.root)
    assert all(name == f"has_{code.lower()}" for code, name in by_tag.items())


def test_the_profile_agrees_with_the_long_table(built_project: Project) -> None:
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        long = con.sql("select count(*) from taglake_marts.fct_customer_tags").fetchone()[0]
        wide = con.sql("select sum(tag_count) from taglake_marts.customer_tag_profile_v1").fetchone()[0]
        customers = con.sql("select count(*) from taglake_marts.dim_customers").fetchone()[0]
        profiles = con.sql("select count(*) from taglake_marts.customer_tag_profile_v1").fetchone()[0]
        produced = {r[0] for r in con.sql("select distinct tag_code from taglake_marts.fct_customer_tags").fetchall()}
    assert long == wide > 0
    assert profiles == customers
    # The 12-day test lake is too short for some rules (30-day app idleness, say); the unit tests pin each rule,
    # and here most tags have holders end to end.
    assert produced <= _active_codes(built_project.root)
    assert len(produced) >= 12, sorted(produced)


@pytest.fixture(scope="module")
def catalog_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    project = copy_project(tmp_path_factory.mktemp("catalog"))
    prepare_local(project, "local")
    yield project


def _check_catalog(project: Project) -> subprocess.CompletedProcess[str]:
    # cautious: leave out the tests that also need other models (this copy builds only the catalog)
    return dbt(project, "build", "--select", *CATALOG_CHECK, "--indirect-selection", "cautious")


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda rows: [r | {"status": "planned"} if r["tag_code"] == "LC_NEW" else r for r in rows], "planned"),
        (lambda rows: [r for r in rows if r["tag_code"] != "DIG_ACTIVE"], "missing"),
        (lambda rows: [r | {"status": "active"} if r["tag_code"] == "VAL_PAYROLL" else r for r in rows], "no rule"),
        (lambda rows: [r | {"tag_family": "risk"} if r["tag_code"] == "VAL_HNW" else r for r in rows], "family"),
    ],
    ids=["produced-but-planned", "produced-but-not-in-catalog", "active-without-rule", "wrong-family"],
)
def test_a_catalog_out_of_step_with_the_rules_fails(catalog_copy: Project, edit, why: str) -> None:
    path = catalog_copy.root / CATALOG
    original = path.read_text(encoding="utf-8")
    rows = _catalog(catalog_copy.root)
    assert _check_catalog(catalog_copy).returncode == 0
    try:
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(edit(rows))
        result = _check_catalog(catalog_copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    assert "assert_tag_catalog_matches_producers" in result.stdout and "FAIL" in result.stdout
