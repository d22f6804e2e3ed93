"""dbt's artifacts read through typed models (taglake.core.artifacts); a file that is not one is one line naming
it, never its content."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import artifact_shapes as shapes
import pytest

from taglake.core.artifacts import (
    ArtifactError,
    FreshnessCheckFailed,
    SourceFreshness,
    read_manifest,
    read_run_results,
    read_sources,
)
from taglake.core.errors import describe

NATIONAL_ID = "A123456789"
EMAIL = "chen.mei@example.com"


def test_run_results_are_read_typed(tmp_path: Path) -> None:
    path = shapes.write(
        tmp_path / "run_results.json",
        shapes.run_results(
            shapes.run_result("model.taglake.dim_customers", "success", 1.5),
            shapes.run_result("test.taglake.not_null_dim_customers_id.abc", "fail"),
        ),
    )
    results = read_run_results(path).results
    assert [(r.unique_id, r.status.value, r.execution_time) for r in results] == [
        ("model.taglake.dim_customers", "success", 1.5),
        ("test.taglake.not_null_dim_customers_id.abc", "fail", 0.1),
    ]


def test_sources_are_read_typed_a_failed_check_apart_from_a_checked_source(tmp_path: Path) -> None:
    path = shapes.write(
        tmp_path / "sources.json",
        shapes.sources(
            shapes.freshness("source.taglake.crm.customers", "error", "2026-10-31T00:00:00+00:00", 86_400.0),
            shapes.freshness_failed("source.taglake.ml.model_scores"),
        ),
    )
    checked, failed = read_sources(path).results
    assert isinstance(checked, SourceFreshness) and checked.max_loaded_at_time_ago_in_s == 86_400.0
    assert isinstance(failed, FreshnessCheckFailed) and failed.status.value == "runtime error"


def test_a_manifest_is_read_typed_each_node_as_its_kind(tmp_path: Path) -> None:
    path = shapes.write(
        tmp_path / "manifest.json",
        shapes.manifest(
            [shapes.model_node("dim_customers", "select 1 as id"), shapes.seed_node("tag_catalog")],
            [shapes.source_node("crm", "customers")],
        ),
    )
    manifest = read_manifest(path)
    model = manifest.nodes["model.taglake.dim_customers"]
    seed = manifest.nodes["seed.taglake.tag_catalog"]
    assert (model.resource_type, model.config.materialized, model.compiled_code) == ("model", "table", "select 1 as id")
    assert seed.resource_type == "seed" and not hasattr(seed, "compiled_code")
    assert manifest.sources["source.taglake.crm.customers"].relation_name == '"raw_crm"."customers"'


def _error(read: Callable[[Path], object], path: Path) -> str:
    """The one line the command line prints for what `read` raised (and it must raise ArtifactError)."""
    with pytest.raises(ArtifactError) as caught:
        read(path)
    message = describe(caught.value, "run-daily")
    assert "\n" not in message and str(path) in message
    return message


def test_a_missing_artifact_is_one_line_naming_the_file_and_what_writes_it(tmp_path: Path) -> None:
    message = _error(read_sources, tmp_path / "target" / "sources.json")
    assert "no such file" in message and "`dbt source freshness`" in message


def test_a_file_that_is_not_a_dbt_artifact_is_one_line_naming_the_file(tmp_path: Path) -> None:
    lake_manifest = shapes.write(tmp_path / "manifest.json", {"params": {"customers": 20}, "files": []})
    assert "not a dbt manifest.json v12" in _error(read_manifest, lake_manifest)
    text = tmp_path / "run_results.json"
    text.write_text("Done. PASS=3\n", encoding="utf-8")
    assert "not JSON" in _error(read_run_results, text)
    other_kind = shapes.write(tmp_path / "sources.json", shapes.run_results())
    assert "not a dbt sources.json v3" in _error(read_sources, other_kind)


def test_an_artifact_of_another_dbt_version_says_which_version_it_reads(tmp_path: Path) -> None:
    old = shapes.run_results()
    old["metadata"]["dbt_schema_version"] = shapes.SCHEMA.format(kind="run-results", version=5)
    message = _error(read_run_results, shapes.write(tmp_path / "run_results.json", old))
    assert "v5, taglake reads v6" in message


@pytest.mark.redteam
def test_a_malformed_artifact_does_not_echo_its_content(tmp_path: Path) -> None:
    # A personal value where dbt writes a status, as a key where dbt writes a node id, and as the schema version.
    bad_status = shapes.run_results(shapes.run_result("model.taglake.dim_customers", NATIONAL_ID))
    bad_node = shapes.manifest([])
    bad_node["nodes"][NATIONAL_ID] = {"resource_type": "model", "name": EMAIL}
    bad_version = shapes.sources()
    bad_version["metadata"]["dbt_schema_version"] = f"https://schemas.getdbt.com/dbt/sources/v{NATIONAL_ID}.json"
    not_json = tmp_path / "broken" / "run_results.json"
    not_json.parent.mkdir()
    not_json.write_text('{"results": [{"status": "' + EMAIL, encoding="utf-8")
    cases = [
        (read_run_results, shapes.write(tmp_path / "status" / "run_results.json", bad_status), "schema"),
        (read_manifest, shapes.write(tmp_path / "node" / "manifest.json", bad_node), "schema"),
        (read_sources, shapes.write(tmp_path / "version" / "sources.json", bad_version), "not a dbt sources"),
        (read_run_results, not_json, "not JSON"),
    ]
    for read, path, said in cases:
        message = _error(read, path)
        assert said in message
        for value in (NATIONAL_ID, NATIONAL_ID.lower(), "123456789", EMAIL, "chen.mei"):
            assert value not in message, (path, message)


def test_the_first_schema_problem_is_located_by_field_names_only(tmp_path: Path) -> None:
    artifact = shapes.run_results(shapes.run_result("model.taglake.a", "success"))
    del artifact["results"][0]["thread_id"]
    message = _error(read_run_results, shapes.write(tmp_path / "run_results.json", artifact))
    assert "first at results.0.thread_id" in message
