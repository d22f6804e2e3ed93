"""Per-target configuration of the AWS engines, read from what dbt compiled offline (config only, no model SQL)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from offline_env import OFFLINE_TARGET_ENV

from taglake.core.project import Project
from taglake.privacy.dbt_runner import compile_inline
from taglake.verify.offline_compile import CompiledNode, CompiledProject, sqlfluff_failures

Compiled = Callable[[str], CompiledProject]
# Iceberg partition transforms that bound the partitions one write opens (a month a year is ~13 with late arrivals).
BOUNDED_TRANSFORM = re.compile(r"^(year|month)\([a-z_]+\)$|^bucket\(\d+, *[a-z_]+\)$")

# marts incremental per group (group_replace_incremental): delete+insert on the group key, not merge
GROUP_REPLACED_MARTS = {"agg_model_performance_monthly", "fct_tag_transitions", "dim_customer_attribute_history"}
# replaced per source and landing partition: a pre-hook deletes each source's window, the run appends it again
PARTITION_REPLACED_MARTS = {"fct_quarantined_rows"}


def _manifest(compiled: CompiledProject) -> dict:
    return json.loads(compiled.manifest_path.read_text(encoding="utf-8"))


def _models(manifest: dict, folder: str) -> dict[str, dict]:
    return {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["original_file_path"].startswith(f"models/{folder}/")
    }


def _compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, sql: str) -> str:
    for name, value in OFFLINE_TARGET_ENV[target].items():
        monkeypatch.setenv(name, value)
    project = Project.locate(artifacts_dir=tmp_path, duckdb_path=tmp_path / "t.duckdb")
    return compile_inline(project, sql, target=target)


@pytest.mark.dbt
def test_athena_marts_are_iceberg_merged_and_partitioned_within_the_write_limit(aws_compiled: Compiled) -> None:
    manifest = _manifest(aws_compiled("athena"))
    marts = _models(manifest, "marts")
    assert marts
    for name, node in marts.items():
        config = node["config"]
        assert config["table_type"] == "iceberg", name
        assert config["incremental_strategy"] == "merge", name
        for part in config.get("partitioned_by") or []:
            assert BOUNDED_TRANSFORM.match(part), f"{name}: {part} may open more than 100 partitions in one write"
    assert marts["fct_card_transactions"]["config"]["partitioned_by"] == ["month(transaction_date)"]
    for node in manifest["nodes"].values():
        config = node.get("config") or {}
        is_incremental = node["resource_type"] == "model" and config.get("materialized") == "incremental"
        if is_incremental and config.get("incremental_strategy") == "merge":
            assert config.get("table_type") == "iceberg", f"{node['name']}: Athena merges only into Iceberg"


@pytest.mark.dbt
def test_athena_identifiers_are_lowercase_and_query_comments_off(aws_compiled: Compiled) -> None:
    manifest = _manifest(aws_compiled("athena"))
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if node.get("relation_name"):
            assert node["relation_name"] == node["relation_name"].lower(), node["unique_id"]
        for column in node.get("columns", {}):
            assert column == column.lower(), (node["unique_id"], column)
    project = yaml.safe_load((Project.locate().root / "dbt_project.yml").read_text(encoding="utf-8"))
    assert "query-comment" in project and project["query-comment"] is None


@pytest.mark.dbt
def test_every_model_tags_lake_formation_and_persists_docs(aws_compiled: Compiled) -> None:
    manifest = _manifest(aws_compiled("athena"))
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed", "snapshot"):
            hooks = [h["sql"] for h in node["config"]["post-hook"]]
            assert any("lake_formation_pii_tags()" in h for h in hooks), node["unique_id"]
        if node["resource_type"] == "model":
            assert node["config"]["persist_docs"] == {"relation": True, "columns": True} or node[
                "original_file_path"
            ].startswith("models/vault/"), node["unique_id"]


@pytest.mark.dbt
def test_redshift_facts_have_keys_relations_are_granted_by_the_access_hook_and_views_late_bind(
    aws_compiled: Compiled,
) -> None:
    manifest = _manifest(aws_compiled("redshift"))
    marts = _models(manifest, "marts")
    for name in ("fct_card_transactions", "fct_customer_monthly_metrics"):
        assert marts[name]["config"]["dist"] == "customer_token", name
        assert marts[name]["config"]["sort"], name
    for name, node in marts.items():
        # aggregates replaced per group (model and month) delete and insert their groups; every other mart merges
        replaced = name in GROUP_REPLACED_MARTS
        if name in PARTITION_REPLACED_MARTS:
            assert node["config"]["incremental_strategy"] == "append", name
            assert any("delete_source_windows(" in h["sql"] for h in node["config"]["pre-hook"]), name
            continue
        assert node["config"]["incremental_strategy"] == ("delete+insert" if replaced else "merge"), name
    # Grants come from the access declaration alone (macros/aws/access.sql, tests_py/aws/), not dbt's `grants`.
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "seed", "snapshot"):
            assert not node["config"].get("grants"), node["unique_id"]
            hooks = [h["sql"] for h in node["config"]["post-hook"]]
            assert any("access_grants()" in h for h in hooks), node["unique_id"]
    assert all(n["config"].get("bind") is False for n in manifest["nodes"].values() if n["resource_type"] == "model")


@pytest.mark.dbt
def test_grants_and_engine_settings_stay_off_the_local_target(built_project: Project) -> None:
    manifest = json.loads((built_project.target_path / "manifest.json").read_text(encoding="utf-8"))
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model":
            assert not node["config"].get("grants"), node["unique_id"]
            assert node["config"].get("table_type") is None and not node["config"].get("partitioned_by")


def test_redshift_profiles_autocommit_so_external_schemas_run_outside_a_transaction() -> None:
    profile = yaml.safe_load((Project.locate().root / "profiles.yml").read_text(encoding="utf-8"))["taglake"]
    for target in ("redshift", "redshift_system"):
        assert profile["outputs"][target]["autocommit"] is True


@pytest.mark.dbt
def test_lake_formation_tags_follow_the_source_classification(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dbt_manifest: dict
) -> None:
    columns = ["customer_token", "mobile_masked", "email_token", "city", "age_band", "spend_twd", "national_id"]
    columns.append("quarantined_record")  # classified in the models' YAML: meta.pii_kind
    sql = "{{ tojson([pii_lf_tags_config(" + repr(columns) + ", 'marts'), pii_column_kinds()]) }}"
    config, kinds = json.loads(_compile(tmp_path, monkeypatch, "athena", sql))
    assert config["enabled"] is True and config["tags"] == {"layer": "marts"}
    tagged = {c: kind for kind, cols in config["tags_columns"]["pii"].items() for c in cols}
    assert tagged == {
        "customer_token": "tokenized",
        "email_token": "tokenized",
        "mobile_masked": "masked",
        "city": "generalized",
        "age_band": "generalized",
        "spend_twd": "none",
        "national_id": "clear",
        "quarantined_record": "redacted",
    }
    # Every classified source column is `clear` under its own name: the one source of truth is the source YAML.
    classified = {
        name
        for source in dbt_manifest["sources"].values()
        for name, column in source["columns"].items()
        if (column.get("meta") or {}).get("pii")
    }
    assert classified and all(kinds[name] == "clear" for name in classified)


@pytest.mark.dbt
def test_spectrum_schemas_cover_every_raw_glue_database_and_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dbt_manifest: dict
) -> None:
    role = "arn:aws:iam::123456789012:role/taglake-spectrum"
    sql = "{% for s in raw_glue_databases() %}{{ spectrum_schema_sql(s, '" + role + "') }};\n{% endfor %}"
    compiled = _compile(tmp_path, monkeypatch, "redshift", sql)
    raw = {s["schema"] for s in dbt_manifest["sources"].values() if (s.get("meta") or {}).get("raw_prefix")}
    assert raw and "restricted_keys" not in raw
    assert set(re.findall(r"create external schema if not exists (\w+)", compiled)) == raw
    assert compiled.count(f"iam_role '{role}'") == len(raw)
    probe = CompiledNode("operation.taglake.spectrum", "operation", "spectrum", "macros", None, None, compiled, (), ())
    assert sqlfluff_failures([probe], "redshift") == []
