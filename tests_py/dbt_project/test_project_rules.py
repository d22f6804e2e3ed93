"""The dbt project's own evaluator: the rules of dbt Labs' dbt-project-evaluator, checked on the parsed manifest.

dbt-project-evaluator is a dbt Hub package this machine cannot install (no Hub, no git packages), so its rules that
this project promises (docs/project-rules.md) are checked here, on `dbt parse`'s manifest: naming, directories,
test coverage, documentation coverage, model fan-out, rejoining of upstream concepts, exposures on public models,
primary-key tests, and `source()` only in staging. Each exception is listed in EXCEPTIONS with its reason; an
exception that no longer applies fails too, so the list cannot go stale.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest
from column_checks import not_null_columns

from taglake.core.project import Project
from taglake.privacy.dbt_runner import run_dbt

# Each model's folder (models/<layer>/…) and the prefixes its name may carry.
LAYER_PREFIXES = {
    "staging": ("stg_", "base_"),
    "intermediate": ("int_",),
    "marts": ("dim_", "fct_", "agg_", "rpt_"),
    "vault": ("vault_",),
}
# dbt-project-evaluator's default: a model with more than this many direct leaf children is a fan-out.
MAX_LEAF_CHILDREN = 3

BASE_KEEPS_EVERY_ROW = (
    "every raw row as it landed, exact duplicates and older versions included (the reconciliation counts them); "
    "its stg_ model tests the key of the accepted rows"
)
AS_OF_IS_A_PARAMETER = (
    "int_landing_days_summarized is the lake's calendar: each window and the feature join count days from it"
)

# (rule, model) → why the rule does not apply. Kept short and true; docs/project-rules.md repeats them.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("naming", "customer_tag_profile"): (
        "a versioned, contracted interface (the tag API reads customer_tag_profile_v1): its name is the product's"
    ),
    ("naming", "customer_training_features"): (
        "a versioned, contracted interface (the churn model trains on customer_training_features_v1)"
    ),
    ("source", "source.taglake.privacy.masking_keys"): (
        "the masking key: every staging model tokenizes with it, so each reads it (the vault and re-keying too)"
    ),
    ("primary_key", "base_cards__transactions"): BASE_KEEPS_EVERY_ROW,
    ("primary_key", "base_core_banking__accounts"): BASE_KEEPS_EVERY_ROW,
    ("primary_key", "base_crm__customers"): BASE_KEEPS_EVERY_ROW,
    ("primary_key", "base_digital__app_events"): BASE_KEEPS_EVERY_ROW,
    ("primary_key", "base_ml__model_outcomes"): BASE_KEEPS_EVERY_ROW,
    ("primary_key", "base_ml__model_scores"): BASE_KEEPS_EVERY_ROW,
    ("primary_key", "int_card_transactions_categorized"): (
        "ephemeral: inlined into its readers, no relation to test; fct_card_transactions tests the same key"
    ),
    ("primary_key", "fct_quarantined_rows"): (
        "the rejected raw rows as they landed: two identical bad lines are two rows, counted by the reconciliation"
    ),
    ("rejoin", "int_app_activity_summarized"): AS_OF_IS_A_PARAMETER,
    ("rejoin", "int_card_spend_windowed"): AS_OF_IS_A_PARAMETER,
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`dbt parse` of the checkout (no lake, no key, no build): the graph the rules read."""
    work = tmp_path_factory.mktemp("parse")
    project = Project.locate(artifacts_dir=work, duckdb_path=work / "taglake.duckdb", key_file=work / "no_key.csv")
    run_dbt(project, ["parse"], target="local", quiet=True)
    return json.loads((project.target_path / "manifest.json").read_text(encoding="utf-8"))


def _models(manifest: dict) -> dict[str, dict]:
    return {
        uid: node
        for uid, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["package_name"] == "taglake"
    }


def _layer(node: dict) -> str:
    return Path(node["original_file_path"]).parts[1]


def _tests_by_model(manifest: dict) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = defaultdict(list)
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            for parent in node["depends_on"]["nodes"]:
                found[parent].append(node)
    for unit in manifest.get("unit_tests", {}).values():
        for parent in unit["depends_on"]["nodes"]:
            found[parent].append(unit)
    return found


def _failures(rule: str, found: dict[str, str]) -> list[str]:
    """The models that break `rule` and are not excepted, plus exceptions of this rule that no longer apply."""
    excepted = {model for (r, model) in EXCEPTIONS if r == rule}
    broken = [f"{model}: {why}" for model, why in sorted(found.items()) if model not in excepted]
    stale = [
        f"{model}: listed as an exception to {rule}, but keeps the rule" for model in sorted(excepted - set(found))
    ]
    return broken + stale


def test_models_are_named_for_their_layer_and_live_in_its_folder(manifest: dict) -> None:
    found = {}
    for node in _models(manifest).values():
        layer = _layer(node)
        prefixes = LAYER_PREFIXES.get(layer)
        if prefixes is None:
            found[node["name"]] = f"in models/{layer}/, a folder that is no layer"
        elif not node["name"].startswith(prefixes):
            found[node["name"]] = f"in models/{layer}/ but not named {' or '.join(p + '*' for p in prefixes)}"
        elif layer == "staging":
            source = Path(node["original_file_path"]).parts[2]
            if not node["name"].split("__")[0].endswith(f"_{source}"):
                found[node["name"]] = f"in models/staging/{source}/ but named for another source"
    assert _failures("naming", found) == []


def test_source_is_read_only_in_staging_and_each_source_table_once(manifest: dict) -> None:
    readers: dict[str, list[str]] = defaultdict(list)
    found = {}
    for node in _models(manifest).values():
        for parent in node["depends_on"]["nodes"]:
            if parent.startswith("source."):
                readers[parent].append(node["name"])
                if _layer(node) not in ("staging", "vault"):
                    found[node["name"]] = f"reads {parent} outside staging"
    for source, models in readers.items():
        staging = [m for m in models if m.startswith(("stg_", "base_"))]
        if len(staging) > 1:
            found[source] = f"read by more than one staging model: {sorted(staging)}"
    assert _failures("source", found) == []


def test_every_model_and_column_is_documented(manifest: dict) -> None:
    found = {}
    for node in _models(manifest).values():
        if not node["description"].strip():
            found[node["name"]] = "no description"
        for name, column in node["columns"].items():
            if not (column.get("description") or "").strip():
                found[f"{node['name']}.{name}"] = "column without a description"
    assert _failures("documentation", found) == []


def test_every_model_is_tested_and_has_a_primary_key_test(manifest: dict) -> None:
    tests = _tests_by_model(manifest)
    found = {}
    for uid, node in _models(manifest).items():
        mine = tests.get(uid, [])
        names = {(t.get("test_metadata") or {}).get("name") for t in mine}
        not_null = {t.get("column_name") for t in mine if (t.get("test_metadata") or {}).get("name") == "not_null"}
        for test in mine:
            if (test.get("test_metadata") or {}).get("name") == "column_values":
                not_null |= not_null_columns(test["test_metadata"]["kwargs"])
        unique_columns = {
            t.get("column_name") for t in mine if (t.get("test_metadata") or {}).get("name") == "unique"
        } & not_null
        constrained = {
            name
            for name, column in node["columns"].items()
            if {c["type"] for c in column.get("constraints", [])} >= {"not_null"}
            and "unique" in {(t.get("test_metadata") or {}).get("name") for t in mine if t.get("column_name") == name}
        }
        has_key = bool(unique_columns or constrained or "unique_combination_of_columns" in names)
        if not mine:
            found[node["name"]] = "no test at all"
        elif not has_key:
            found[node["name"]] = "no primary-key test (unique + not_null, or unique_combination_of_columns)"
    assert _failures("primary_key", found) == []


def test_column_checks_are_one_query_per_model(manifest: dict) -> None:
    # A model's not_null, accepted_values and expression_is_true checks are one column_values test (issue 16: one
    # scan, not one query per column and check), named after its model: the quality history names each check from
    # the model. Only an expression test that keeps its failing rows (store_failures) stays a test of its own.
    found = {}
    for uid, mine in _tests_by_model(manifest).items():
        name = (manifest["nodes"].get(uid) or {}).get("name") or uid.split(".")[-1]
        loose = [t for t in mine if not (t.get("config") or {}).get("store_failures")]
        kinds = [(t.get("test_metadata") or {}).get("name") for t in loose]
        merged = [t["name"] for t in mine if (t.get("test_metadata") or {}).get("name") == "column_values"]
        if {"not_null", "accepted_values", "expression_is_true"} & set(kinds):
            found[name] = "a not_null, accepted_values or expression_is_true test of its own: in column_values"
        elif len(merged) > 1 or merged not in ([], [f"column_values_{name}"]):
            found[name] = f"column_values tests {merged}: one, named column_values_{name}"
    assert found == {}


def test_no_model_fans_out_to_many_leaves(manifest: dict) -> None:
    children = manifest["child_map"]
    models = _models(manifest)
    leaves = {uid for uid in models if not [c for c in children.get(uid, []) if c.startswith(("model.", "snapshot."))]}
    found = {}
    for uid, node in models.items():
        leaf_children = [c for c in children.get(uid, []) if c in leaves]
        if len(leaf_children) > MAX_LEAF_CHILDREN:
            found[node["name"]] = (
                f"{len(leaf_children)} leaf children: {sorted(c.split('.')[-1] for c in leaf_children)}"
            )
    assert _failures("fanout", found) == []


def test_no_model_rejoins_an_upstream_concept(manifest: dict) -> None:
    """A → B → C and A → C, where B's only child is C: B is a step of C in the wrong place (the evaluator's rule)."""
    parents = manifest["parent_map"]
    children = manifest["child_map"]
    models = _models(manifest)
    found = {}
    for c in models:
        for b in parents.get(c, []):
            if b not in models or [x for x in children.get(b, []) if not x.startswith("test.")] != [c]:
                continue
            for a in parents.get(b, []):
                if a in parents.get(c, []):
                    found[models[b]["name"]] = (
                        f"{a.split('.')[-1]} → {models[b]['name']} → {models[c]['name']} and {a.split('.')[-1]} "
                        f"→ {models[c]['name']}"
                    )
    assert _failures("rejoin", found) == []


def test_exposures_read_only_public_models_and_only_marts_are_public(manifest: dict) -> None:
    models = _models(manifest)
    found = {}
    for exposure in manifest["exposures"].values():
        for uid in exposure["depends_on"]["nodes"]:
            node = models.get(uid)
            if node is not None and node.get("access") != "public":
                found[node["name"]] = f"read by exposure {exposure['name']} but access is {node.get('access')}"
    for node in models.values():
        if node.get("access") == "public" and _layer(node) != "marts":
            found[node["name"]] = "public outside the marts"
    assert _failures("public", found) == []


def test_the_exceptions_name_models_that_exist(manifest: dict) -> None:
    names = {node["name"] for node in _models(manifest).values()} | set(manifest["sources"])
    assert {model for (_, model) in EXCEPTIONS} <= names
