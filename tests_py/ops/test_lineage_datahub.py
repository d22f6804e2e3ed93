"""DataHub's view of the lake (`make lineage`): DataHub's own ingestion of the sanitised dbt artifacts and of the raw
Glue catalog (moto) into DataHub lite and a metadata file under target/lineage/, queried back from the lite store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lineage_project import build_artifacts_project, datahub_venv

from taglake.core.project import Project
from taglake.core.sources import catalog_tables
from taglake.ops.lineage import ZONES, LineageError, lineage_dir
from taglake.ops.lineage_datahub import DataHubOutput, dump_lite, ingest, require_clean_metadata
from taglake.privacy.patterns import find
from taglake.privacy.scan.canaries import collect_canaries
from taglake.privacy.scan.scanner import scan

pytestmark = [pytest.mark.lineage, pytest.mark.dbt]

DBT = "urn:li:dataset:(urn:li:dataPlatform:dbt,{},PROD)"
GLUE = "urn:li:dataset:(urn:li:dataPlatform:glue,{},PROD)"


@pytest.fixture(scope="module")
def ingested(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, DataHubOutput, dict]:
    project = build_artifacts_project(built_project, tmp_path_factory.mktemp("datahub"))
    venv = datahub_venv(project.root)
    out = ingest(project, venv)
    store = dump_lite(venv, out.lite_file)
    (lineage_dir(project) / "lite_dump.json").write_text(json.dumps(store), encoding="utf-8")
    return project, out, store


@pytest.fixture(scope="module")
def manifest(ingested) -> dict:
    project, _, _ = ingested
    return json.loads((project.target_path / "manifest.json").read_text(encoding="utf-8"))


def _name(node: dict) -> str:
    return f"{node['schema']}.{node.get('identifier') or node.get('alias') or node['name']}"


def _upstreams(store: dict, urn: str) -> list[str]:
    return [u["dataset"] for u in store.get(urn, {}).get("upstreamLineage", {}).get("upstreams", [])]


def _reached(store: dict, start: str) -> set[str]:
    """Every dataset upstream of `start` in the lite store. A dbt model's upstream is its table on the target
    platform (glue,<schema>.<table>), the sibling of the dbt entity of the same name: the walk goes on from there."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        urn = todo.pop()
        for up in _upstreams(store, urn):
            if up in seen:
                continue
            seen.add(up)
            todo.append(up)
            sibling = up.replace("urn:li:dataPlatform:glue,", "urn:li:dataPlatform:dbt,")
            if sibling != up and sibling in store:
                todo.append(sibling)
    return seen


def _ancestor_sources(manifest: dict, unique_id: str) -> set[str]:
    seen: set[str] = set()
    todo = [unique_id]
    while todo:
        for parent in manifest["parent_map"].get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return {p for p in seen if p.startswith("source.")}


@pytest.mark.parametrize("mart", ["dim_customers", "fct_customer_tags", "customer_training_features_v1"])
def test_a_marts_upstream_lineage_reaches_its_raw_glue_tables(ingested, manifest: dict, mart: str) -> None:
    _, _, store = ingested
    (unique_id,) = [k for k, n in manifest["nodes"].items() if n["resource_type"] == "model" and n["alias"] == mart]
    expected = {GLUE.format(_name(manifest["sources"][s])) for s in _ancestor_sources(manifest, unique_id)}
    assert any("raw_" in urn for urn in expected)
    reached = _reached(store, DBT.format(_name(manifest["nodes"][unique_id])))
    assert expected <= reached, expected - reached
    for urn in expected:
        if ",raw_" in urn:  # the raw tables are in the store as the Glue tables they are (moto's catalog)
            assert store[urn]["schemaMetadata"]["platform"] == "urn:li:dataPlatform:glue", urn


def test_column_level_lineage_runs_from_staging_columns_back_to_raw_columns(ingested) -> None:
    _, _, store = ingested
    fine = store[DBT.format("taglake_staging.base_crm__customers")]["upstreamLineage"]["fineGrainedLineages"]
    upstream_fields = {f for lineage in fine for f in lineage["upstreams"]}
    assert f"urn:li:schemaField:({DBT.format('raw_crm.customers')},birth_date)" in upstream_fields
    mart_fine = store[DBT.format("taglake_marts.dim_customers")]["upstreamLineage"].get("fineGrainedLineages", [])
    assert mart_fine


def _zone_of(path: str, resource_type: str) -> str:
    """The zone each folder was decided to be (docs/operations.md), from where the node lives, not from its meta."""
    if resource_type == "source":
        return "Raw"
    if resource_type in ("seed", "snapshot"):
        return "Consumption"
    if path.startswith(("models/staging/", "models/intermediate/")):
        return "Transformed"
    if path.startswith(("models/marts/tags/", "models/marts/features/")):
        return "Data Mart"
    assert path.startswith("models/marts/"), path
    return "Consumption"


def test_each_zone_holds_the_datasets_of_its_folders_and_every_dataset_has_one_zone(ingested, manifest) -> None:
    _, _, store = ingested
    nodes = [
        *manifest["sources"].values(),
        *(n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed", "snapshot")),
    ]
    expected = {zone: set() for zone in ZONES}
    for node in nodes:
        expected[_zone_of(node["original_file_path"], node["resource_type"])].add(DBT.format(_name(node)))
    found = {zone: set() for zone in ZONES}
    for urn, aspects in store.items():
        if not urn.startswith("urn:li:dataset:(urn:li:dataPlatform:dbt,"):
            continue
        zones = [
            t["urn"].removeprefix("urn:li:glossaryTerm:") for t in aspects.get("glossaryTerms", {}).get("terms", [])
        ]
        zones = [z for z in zones if z in ZONES]
        assert len(zones) == 1, (urn, zones)
        found[zones[0]].add(urn)
    assert found == expected
    assert all(found.values())
    assert {f"urn:li:glossaryTerm:{zone}" for zone in ZONES} <= set(store)


def test_personal_data_classes_are_glossary_terms_on_the_raw_columns_from_the_source_yaml(ingested) -> None:
    _, _, store = ingested
    for table in catalog_tables().values():
        fields = {
            f["fieldPath"]: f for f in store[DBT.format(f"{table.schema}.{table.table}")]["schemaMetadata"]["fields"]
        }
        for column in table.columns:
            terms = {t["urn"] for t in fields[column.name].get("glossaryTerms", {}).get("terms", [])}
            want = {f"urn:li:glossaryTerm:PII.{column.pii}"} if column.pii else set()
            assert terms == want, (table.name, column.name)


def test_owners_and_descriptions_come_from_the_yaml(ingested, manifest) -> None:
    _, _, store = ingested
    node = manifest["nodes"]["model.taglake.dim_customers"]
    aspects = store[DBT.format("taglake_marts.dim_customers")]
    assert [o["owner"] for o in aspects["ownership"]["owners"]] == ["urn:li:corpGroup:data_analytics"]
    assert aspects["datasetProperties"]["description"] == node["description"]
    tags = store[DBT.format("taglake_marts.customer_tag_profile_v1")]["ownership"]["owners"]
    assert [o["owner"] for o in tags] == ["urn:li:corpGroup:application_platform"]


def test_datasets_carry_no_sql_paths_or_meta_beyond_zone_owner_and_dataset(ingested) -> None:
    project, out, store = ingested
    text = out.metadata_file.read_text(encoding="utf-8")
    for needle in (
        "read_csv",
        "read_parquet",
        "masking_keys.csv",
        str(project.lake_dir),
        "external_location",
        "key_file",
    ):
        assert needle not in text, needle
    for urn, aspects in store.items():
        assert "viewProperties" not in aspects, urn
        props = aspects.get("datasetProperties", {}).get("customProperties", {})
        assert not {"external_location", "lake_root", "key_file", "format_options", "raw_prefix"} & set(props), urn


def _shapes(folder: Path) -> list[tuple[str, str]]:
    """National-ID and mobile shapes in the lineage outputs under `folder` (the metadata file, the lite store's dump,
    the recipes): (file, kind), never the value. The ingestion logs are left to the canary scan: their timings
    (`22:26:09.032848`) take a mobile's shape."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".yml")):
        for hit in find(path.read_text(encoding="utf-8", errors="replace"), ("national_id", "mobile")):
            found.append((str(path), hit.kind))
    return found


def test_no_lineage_output_holds_personal_data_key_material_or_their_shapes(ingested) -> None:
    project, _, _ = ingested
    folder = lineage_dir(project)
    assert {p.name for p in folder.iterdir()} >= {"datahub_metadata.json", "datahub_lite.db", "lite_dump.json"}
    assert scan(project.lake_dir, db_path=None, folders=[folder], key_file=project.key_file) == []
    assert _shapes(folder) == []


@pytest.mark.redteam
def test_the_output_check_finds_a_national_id_planted_in_a_description(ingested, tmp_path: Path) -> None:
    """The check above can fail: the same metadata with a raw national ID planted in one dataset's description."""
    project, out, _ = ingested
    planted = sorted(collect_canaries(project.lake_dir, limit_per_kind=5)["national_id"])[0]
    records = json.loads(out.metadata_file.read_text(encoding="utf-8"))
    text = json.dumps(records).replace(
        "One row per customer (customer_token)", f"One row per customer, e.g. {planted}", 1
    )
    assert planted in text
    folder = tmp_path / "lineage"
    folder.mkdir()
    (folder / "datahub_metadata.json").write_text(text, encoding="utf-8")
    shutil.copy2(out.lite_file, folder / "datahub_lite.db")
    hits = scan(project.lake_dir, db_path=None, folders=[folder], key_file=project.key_file)
    assert [h.kind for h in hits] == ["national_id"]
    assert _shapes(folder) == [(str(folder / "datahub_metadata.json"), "national_id")]


@pytest.mark.redteam
@pytest.mark.parametrize("where", ["description", "custom property"])
def test_a_metadata_file_holding_a_national_id_is_deleted_before_lite_or_a_gms_gets_it(
    ingested, tmp_path: Path, where: str
) -> None:
    project, out, _ = ingested
    planted = sorted(collect_canaries(project.lake_dir, limit_per_kind=5)["national_id"])[0]
    text = out.metadata_file.read_text(encoding="utf-8")
    if where == "description":
        text = text.replace(
            "One row per customer (customer_token)", f"One row per customer (e.g. {planted.lower()})", 1
        )
    else:
        text = text.replace('"zone": "Consumption"', f'"zone": "Consumption", "example": "{planted}"', 1)
    assert planted.lower() in text.lower()
    metadata = tmp_path / "datahub_metadata.json"
    metadata.write_text(text, encoding="utf-8")
    require_clean_metadata(project, out.metadata_file)  # the real output passes
    with pytest.raises(LineageError) as refused:
        require_clean_metadata(project, metadata)
    assert planted.lower() not in str(refused.value).lower()
    assert not metadata.exists()
