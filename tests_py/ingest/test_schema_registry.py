"""The schema registry: JSON Schemas generated from the source YAML, versioned in taglake/ingest/json-schemas/, each
step classified; a YAML change without a registry update fails the check, a breaking one also without a migration
note; Glue's table definitions and the schemas never disagree."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from taglake import cli
from taglake.aws.glue_catalog import hive_type, plan_catalog
from taglake.core import sources
from taglake.core.checkout import find_project_dir
from taglake.core.sources import source_tables
from taglake.ingest import registry

pytestmark = pytest.mark.schema_registry


def _project_copy(tmp_path: Path) -> tuple[Path, Path]:
    """The parts of the project the registry reads (source YAML, seeds, dbt_project.yml) and a copy of the
    checked-in registry, both free to change."""
    root = find_project_dir()
    project = tmp_path / "project"
    shutil.copytree(root / "models" / "staging", project / "models" / "staging")
    shutil.copytree(root / "seeds", project / "seeds")
    shutil.copy2(root / "dbt_project.yml", project / "dbt_project.yml")
    reg = tmp_path / "schemas"
    shutil.copytree(registry.default_registry_dir(), reg)
    return project, reg


def _edit_app_events(project: Path, change: Any) -> None:
    path = project / "models" / "staging" / "digital" / "_digital__sources.yml"
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    keys = doc["sources"][0]["tables"][0]["config"]["meta"]["json_keys"]
    change(keys)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    sources._load.cache_clear()  # the reader caches each project's YAML for the process; this one just changed


def test_the_checked_in_registry_is_what_the_source_yaml_generates_now() -> None:
    assert registry.check_registry() == []
    for name, schema in registry.generated_schemas().items():
        current = registry.read_index()["tables"][name]["current"]
        assert registry.read_version(name, current) == schema, name
    assert cli.main(["schema-registry", "check"]) == 0


def test_every_registry_version_is_a_valid_draft_2020_12_schema() -> None:
    index = registry.read_index()
    assert set(index["tables"]) == set(source_tables())
    for name, entry in index["tables"].items():
        for version in entry["versions"]:
            Draft202012Validator.check_schema(registry.read_version(name, int(version)))


def test_glue_tables_and_registry_schemas_agree_on_column_names_types_and_order() -> None:
    glue = {t["Parameters"]["taglake.source"]: t for _, t in plan_catalog(bucket="b").tables}
    for name, schema in registry.generated_schemas().items():
        table = glue[name]
        columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
        partitions = [c["Name"] for c in table["PartitionKeys"]]
        assert partitions == schema["x-taglake-partition-keys"], name
        fields = [(n, hive_type(s["x-taglake-data-type"])) for n, s in schema["properties"].items()]
        if schema["x-taglake-format"] == "jsonl":
            # Glue reads a JSON line whole into its one text column; the schema describes the line's keys, which
            # are the YAML's json_keys in order.
            assert columns == [("raw_line", "string")], name
            assert [n for n, _ in fields] == [k.name for k in source_tables()[name].json_keys]
        else:
            assert columns == fields, name
            json_types = {
                n: s["type"] if isinstance(s["type"], str) else s["type"][0] for n, s in schema["properties"].items()
            }
            for column, hive in columns:
                expected = {"string": "string", "int": "integer", "bigint": "integer", "double": "number"}.get(
                    hive, "string"
                )  # decimals and timestamps travel as strings: exact, never a binary float
                assert json_types[column] == expected, (name, column)


def test_a_schema_describes_required_fields_codes_and_personal_classes_from_the_yaml() -> None:
    schema = registry.generated_schemas()["digital.app_events"]
    assert schema["required"] == ["event_id", "national_id", "event_type", "event_at"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["national_id"]["x-taglake-pii"] == "national_id"
    assert schema["properties"]["event_type"]["enum"] == ["login", "page_view", "product_view", "logout"]
    assert schema["properties"]["device"]["properties"]["os"]["x-taglake-case"] == "lower"
    currency = registry.generated_schemas()["cards.transactions"]["properties"]["currency"]
    assert "TWD" in currency["enum"] and "NTD" not in currency["enum"]  # read from the seed it references


BASE = {
    "type": "object",
    "properties": {
        "a": {"type": "string", "x-taglake-data-type": "string"},
        "b": {"type": ["string", "null"], "enum": ["x", "y", None], "x-taglake-data-type": "string"},
    },
    "required": ["a"],
}


def _changed(edit: Any) -> dict[str, Any]:
    new = copy.deepcopy(BASE)
    edit(new)
    return new


@pytest.mark.parametrize(
    ("edit", "expected", "what"),
    [
        (lambda s: s["properties"].update(c={"type": ["string", "null"]}), "compatible", "added_optional"),
        (lambda s: s["properties"]["b"].update(enum=["x", "y", "z", None]), "compatible", "values_added"),
        (lambda s: s.update(required=[]), "compatible", "became_optional"),
        (lambda s: s["properties"].pop("b"), "breaking", "removed"),
        (lambda s: s["properties"]["a"].update(type="integer"), "breaking", "retyped"),
        (lambda s: s["properties"]["a"].update({"x-taglake-parses-as": "date"}), "breaking", "retyped"),
        (lambda s: (s["properties"].update(c={"type": "string"}), s.update(required=["a", "c"])), "breaking",
         "added_required"),
        (lambda s: s.update(required=["a", "b"]), "breaking", "became_required"),
        (lambda s: s["properties"]["b"].update(enum=["x", None]), "breaking", "values_narrowed"),
    ],
)  # fmt: skip
def test_a_change_is_classified_compatible_or_breaking(edit: Any, expected: str, what: str) -> None:
    change, changes = registry.classify(BASE, _changed(edit))
    assert change == expected
    assert what in {c.what for c in changes}


def test_an_unchanged_schema_is_the_same() -> None:
    assert registry.classify(BASE, copy.deepcopy(BASE)) == ("same", [])


def test_a_breaking_yaml_change_fails_the_check_until_a_new_version_carries_a_migration_note(tmp_path: Path) -> None:
    project, reg = _project_copy(tmp_path)
    assert registry.check_registry(project, reg) == []
    _edit_app_events(project, lambda keys: keys.pop(next(i for i, k in enumerate(keys) if k["name"] == "page")))

    problems = registry.check_registry(project, reg)
    assert len(problems) == 1 and problems[0].startswith("digital.app_events: the source YAML has a breaking change")
    assert "page: removed" in problems[0]

    assert registry.write_registry(project, reg) == ["digital.app_events: v2 (breaking)"]
    problems = registry.check_registry(project, reg)
    assert problems == [
        "digital.app_events: v2 is a breaking change and needs a migration note (index.json versions.2.migration)"
    ]

    index = json.loads((reg / "index.json").read_text(encoding="utf-8"))
    index["tables"]["digital.app_events"]["versions"]["2"]["migration"] = "page dropped: clients stop sending it."
    (reg / "index.json").write_text(json.dumps(index), encoding="utf-8")
    assert registry.check_registry(project, reg) == []
    assert registry.live_versions("digital.app_events", reg) == [1, 2]


def test_a_compatible_yaml_change_needs_a_new_version_but_no_note(tmp_path: Path) -> None:
    project, reg = _project_copy(tmp_path)
    _edit_app_events(project, lambda keys: keys.append({"name": "campaign", "content": "free_text"}))
    problems = registry.check_registry(project, reg)
    assert len(problems) == 1 and "a compatible change not in the registry (campaign: added_optional)" in problems[0]
    assert registry.write_registry(project, reg) == ["digital.app_events: v2 (compatible)"]
    assert registry.check_registry(project, reg) == []


def test_a_version_recorded_as_compatible_that_is_breaking_fails(tmp_path: Path) -> None:
    project, reg = _project_copy(tmp_path)
    _edit_app_events(project, lambda keys: keys[4].update(required=True))  # page becomes required
    registry.write_registry(project, reg)
    index = json.loads((reg / "index.json").read_text(encoding="utf-8"))
    index["tables"]["digital.app_events"]["versions"]["2"] = {"change": "compatible", "migration": "Compatible."}
    (reg / "index.json").write_text(json.dumps(index), encoding="utf-8")
    problems = registry.check_registry(project, reg)
    assert "digital.app_events: v2 is recorded as compatible but is breaking" in problems
