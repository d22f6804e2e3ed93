"""The Lake Formation tag policies, evaluated as data: for every relation and column the project builds on Athena
(its tags exactly as the post-hook sets them) and every raw and key table, which roles can read it.

The evaluator below is written from Lake Formation's documented semantics, independently of the code that makes the
policies: a column's tags are its database's, overridden by its table's, overridden by its own; a tag-policy grant
matches a resource when, for every key of its expression, the resource has that key with one of the listed values
(a missing key matches nothing).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from taglake.aws.access import compile_access_json
from taglake.aws.lake_formation import LfGrant, database_layers, plan_lake_formation, role_grants
from taglake.core.project import Project
from taglake.core.sources import catalog_tables, project_var
from taglake.privacy.access_policy import AccessError, load_access, parse_access

SCHEMA = "taglake"  # TAGLAKE_ATHENA_SCHEMA of the offline environment
PERSONS = ("analyst", "data_scientist", "application", "data_manager")
EXPOSURE_ROLE = {"application": "application", "ml": "data_scientist", "dashboard": "analyst"}
READ = {"SELECT", "ALL"}


def matches(expression: list[dict[str, Any]], tags: Mapping[str, str]) -> bool:
    return all(tags.get(term["TagKey"]) in term["TagValues"] for term in expression)


def can(grants: list[LfGrant], permissions: set[str], resource_type: str, tags: Mapping[str, str]) -> bool:
    for g in grants:
        policy = g.resource.get("LFTagPolicy")
        applies = policy and policy["ResourceType"] == resource_type and permissions & set(g.permissions)
        if applies and matches(policy["Expression"], tags):
            return True
    return False


@pytest.fixture(scope="module")
def lf_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every column the Athena system target builds (the vault too) with its effective tags, plus the raw and key
    tables, and each role's grants."""
    project = Project.locate()
    work = tmp_path_factory.mktemp("lf_access")
    plan = compile_access_json(project, "athena_system", "lake_formation_plan()", artifacts_dir=work)
    manifest = json.loads((work / "athena_system" / "target" / "manifest.json").read_text(encoding="utf-8"))
    policy = load_access()
    tables = catalog_tables(project.root).values()
    raw_dbs = {t.schema for t in tables if not t.restricted}
    keys_dbs = {t.schema for t in tables if t.restricted}
    db_layers = database_layers(policy, athena_schema=SCHEMA, raw_databases=raw_dbs, keys_databases=keys_dbs)
    columns: list[dict[str, Any]] = []  # {relation, layer, column, tags}
    for uid, entry in plan.items():
        config = entry["config"]
        table_tags = {"layer": db_layers[entry["database"]], **config["tags"]}
        for kind, names in config["tags_columns"]["pii"].items():
            for name in names:
                relation = f"{entry['database']}.{entry['table']}"
                columns.append({"uid": uid, "relation": relation, "column": name, "tags": {**table_tags, "pii": kind}})
    for t in tables:  # dbt does not tag raw or key tables: only their database's layer (taglake lake-formation)
        for c in t.columns:
            tags = {"layer": db_layers[t.schema]}
            columns.append({"uid": t.name, "relation": f"{t.schema}.{t.table}", "column": c.name, "tags": tags})
    plan_lf = plan_lake_formation(
        policy,
        {r: f"arn:aws:iam::123456789012:role/{r}" for r in policy.roles},
        athena_schema=SCHEMA,
        raw_databases=raw_dbs,
        keys_databases=keys_dbs,
    )
    grants = {r: [g for g in plan_lf.grants if g.role == r] for r in policy.roles}
    return {"plan": plan, "manifest": manifest, "columns": columns, "grants": grants, "db_layers": db_layers}


def _readers(world: dict[str, Any]) -> dict[str, dict[str, set[str]]]:
    """role → relation → the columns it can SELECT."""
    out: dict[str, dict[str, set[str]]] = {}
    for role, grants in world["grants"].items():
        for c in world["columns"]:
            if can(grants, READ, "TABLE", c["tags"]):
                out.setdefault(role, {}).setdefault(c["relation"], set()).add(c["column"])
    return out


@pytest.mark.dbt
def test_the_post_hook_tags_every_relation_with_its_layer_and_the_databases_agree(lf_world: dict) -> None:
    layers = {c["tags"]["layer"] for c in lf_world["columns"]}
    assert layers == set(load_access().layers), "every layer occurs: raw, keys, staging, …, vault"
    for entry in lf_world["plan"].values():
        assert entry["config"]["tags"]["layer"] == lf_world["db_layers"][entry["database"]], entry
    kinds = {c["tags"].get("pii") for c in lf_world["columns"]}
    assert {"clear", "tokenized", "generalized", "none"} <= kinds


@pytest.mark.dbt
@pytest.mark.redteam
def test_no_person_reaches_clear_raw_keys_staging_intermediate_or_vault(lf_world: dict) -> None:
    readers = _readers(lf_world)
    by_relation = {(c["relation"], c["column"]): c["tags"] for c in lf_world["columns"]}
    vault = [c for c in lf_world["columns"] if c["tags"]["layer"] == "vault"]
    assert vault and any(c["tags"]["pii"] == "clear" for c in vault), "the vault's clear columns are in the world"
    for role in PERSONS:
        for relation, names in readers.get(role, {}).items():
            for name in names:
                tags = by_relation[(relation, name)]
                assert tags["layer"] in ("marts", "reference", "snapshots"), (role, relation, name)
                assert tags.get("pii") not in (None, "clear"), (role, relation, name)
    # Only the system identity reads the vault; the pipeline reads raw and keys but not the vault.
    assert any(r.endswith("_vault.vault_customer_identities") for r in readers["system"])
    assert not any(r.split(".")[0].endswith("_vault") for r in readers["pipeline"])
    assert any(r.startswith("restricted_keys.") for r in readers["pipeline"])


@pytest.mark.dbt
def test_each_role_reaches_what_docs_promise(lf_world: dict) -> None:
    policy = load_access()
    readers = _readers(lf_world)
    consumption = {c["relation"] for c in lf_world["columns"] if c["tags"]["layer"] in policy.consumption_layers}
    assert len(consumption) >= 20
    # Analysts: every column of every mart, reference seed and snapshot (none there is clear).
    every = {}
    for c in lf_world["columns"]:
        if c["relation"] in consumption:
            every.setdefault(c["relation"], set()).add(c["column"])
    assert readers["analyst"] == every
    # Applications and data scientists: exactly their exposures' relations; applications only tokens and none.
    manifest = lf_world["manifest"]
    promised: dict[str, set[str]] = {}
    for exposure in manifest["exposures"].values():
        for uid in exposure["depends_on"]["nodes"]:
            node = manifest["nodes"][uid]
            promised.setdefault(EXPOSURE_ROLE[exposure["type"]], set()).add(f"{node['schema']}.{node['alias']}")
    assert set(readers["application"]) == promised["application"]
    assert set(readers["data_scientist"]) == promised["data_scientist"]
    assert promised["analyst"] <= set(readers["analyst"])
    kinds = {(c["relation"], c["column"]): c["tags"].get("pii") for c in lf_world["columns"]}
    assert {kinds[(r, n)] for r, ns in readers["application"].items() for n in ns} <= {"none", "tokenized"}
    profile = f"{SCHEMA}_marts.customer_tag_profile_v1"
    assert readers["application"][profile] == every[profile], "the tag API reads the whole profile"
    # Data scientists read the features, generalised attributes included.
    features = readers["data_scientist"][f"{SCHEMA}_marts.customer_training_features_v1"]
    assert {"customer_token", "city", "age_band"} <= features
    # Data managers: the quality marts' data (not their customer tokens), and the metadata of every layer.
    quality = {
        f"{n['schema']}.{n['alias']}"
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["original_file_path"].startswith("models/marts/quality/")
    }
    assert set(readers["data_manager"]) == quality
    assert all(kinds[(r, n)] in ("none", "redacted") for r, ns in readers["data_manager"].items() for n in ns)
    dm = lf_world["grants"]["data_manager"]
    for c in lf_world["columns"]:
        assert can(dm, {"DESCRIBE"}, "TABLE", c["tags"]), c["relation"]
    for layer in set(lf_world["db_layers"].values()):
        assert can(dm, {"DESCRIBE"}, "DATABASE", {"layer": layer}), layer


@pytest.mark.dbt
@pytest.mark.redteam
def test_a_column_without_a_pii_tag_or_a_table_without_a_dataset_is_read_by_no_person(lf_world: dict) -> None:
    readers_grants = {r: lf_world["grants"][r] for r in PERSONS}
    for role, grants in readers_grants.items():
        for dataset in load_access().datasets:
            assert not can(grants, READ, "TABLE", {"layer": "marts", "dataset": dataset}), (role, "no pii tag")
        assert not can(grants, READ, "TABLE", {"layer": "marts", "pii": "none"}), (role, "no dataset tag")
        assert not can(grants, READ, "TABLE", {"layer": "raw", "dataset": "analytics", "pii": "none"}), role


@pytest.mark.redteam
@pytest.mark.parametrize(
    ("role", "change", "message"),
    [
        ("analyst", {"pii": ["none", "clear"]}, "may not read pii kind clear"),
        ("application", {"datasets": ["tag_serving", "raw_everything"]}, "dataset raw_everything"),
        ("data_manager", {"pii": ["none", "secret"]}, "pii kind secret"),
        ("data_scientist", {"builds": ["marts"]}, "service identity"),
    ],
)
def test_a_declaration_that_widens_a_person_is_refused(role: str, change: dict, message: str) -> None:
    doc = json.loads(json.dumps(project_var("access")))
    doc["roles"][role].update(change)
    with pytest.raises(AccessError, match=message):
        parse_access(doc)


@pytest.mark.redteam
def test_restricted_layers_cannot_be_made_consumption_layers() -> None:
    doc = json.loads(json.dumps(project_var("access")))
    doc["consumption_layers"] = [*doc["consumption_layers"], "staging"]
    with pytest.raises(AccessError, match="staging may not be a consumption layer"):
        parse_access(doc)


def test_person_select_grants_always_scope_layer_dataset_and_pii() -> None:
    policy = load_access()
    for role in policy.people():
        for g in role_grants(policy, role, "arn:aws:iam::123456789012:role/x"):
            if "SELECT" in g.permissions or "ALL" in g.permissions:
                keys = {t["TagKey"] for t in g.resource["LFTagPolicy"]["Expression"]}
                assert keys == {"layer", "dataset", "pii"}, (role.name, g)


def test_apply_refuses_a_role_without_a_principal(tmp_path: Path) -> None:
    policy = load_access()
    principals = {r: f"arn:aws:iam::123456789012:role/{r}" for r in policy.roles if r != "application"}
    with pytest.raises(ValueError, match="no principal for role application"):
        plan_lake_formation(policy, principals, athena_schema=SCHEMA, raw_databases=[], keys_databases=[])


@pytest.mark.dbt
def test_dbt_athena_applies_the_hooks_tags_under_the_applied_policies(
    lf_world: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """End to end on moto: `apply` makes the tags, dbt-athena's own tag manager applies what the post-hook would to
    the tag profile, and what Lake Formation then holds on each column matches the application's SELECT policy
    exactly where the evaluator says."""
    import boto3
    from dbt.adapters.athena.lakeformation import LfTagsConfig, LfTagsManager
    from dbt.adapters.athena.relation import AthenaRelation
    from moto import mock_aws

    from taglake.aws.lake_formation import apply_lake_formation

    for name, value in {
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    entry = next(e for e in lf_world["plan"].values() if e["table"] == "customer_tag_profile_v1")
    columns = [c for names in entry["config"]["tags_columns"]["pii"].values() for c in names]
    policy = load_access()
    with mock_aws():
        glue, lf = boto3.client("glue"), boto3.client("lakeformation")
        glue.create_database(DatabaseInput={"Name": entry["database"]})
        glue.create_table(
            DatabaseName=entry["database"],
            TableInput={
                "Name": entry["table"],
                "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"} for c in columns]},
            },
        )
        plan = plan_lake_formation(
            policy,
            {r: f"arn:aws:iam::123456789012:role/{r}" for r in policy.roles},
            athena_schema=SCHEMA,
            raw_databases=[],
            keys_databases=[],
        )
        apply_lake_formation(lf, glue, plan)
        table = {"DatabaseName": entry["database"], "Name": entry["table"]}
        # moto cannot read the tags of a table that has none (KeyError): tag it first, as an earlier run would have.
        lf.add_lf_tags_to_resource(Resource={"Table": table}, LFTags=[{"TagKey": "layer", "TagValues": ["staging"]}])
        relation = AthenaRelation.create(database="awsdatacatalog", schema=entry["database"], identifier=entry["table"])
        LfTagsManager(lf, relation, LfTagsConfig(**entry["config"])).process_lf_tags()
        got = lf.get_resource_lf_tags(Resource={"TableWithColumns": {**table, "ColumnNames": columns}})
        table_tags = {
            t["TagKey"]: t["TagValues"][0] for t in lf.get_resource_lf_tags(Resource={"Table": table})["LFTagsOnTable"]
        }
    assert table_tags == {"layer": "marts", "dataset": "tag_serving"}
    app = [g for g in plan.grants if g.role == "application"]
    ds = [g for g in plan.grants if g.role == "data_scientist"]
    for column in got["LFTagsOnColumns"]:
        tags = {**table_tags, **{t["TagKey"]: t["TagValues"][0] for t in column["LFTags"]}}
        assert can(app, READ, "TABLE", tags), column["Name"]
        assert not can(ds, READ, "TABLE", tags), column["Name"]
    assert {c["Name"] for c in got["LFTagsOnColumns"]} == set(columns)
