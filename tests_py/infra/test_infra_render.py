"""The generated stacks (taglake infra render) are current and say what their one source says: the Glue tables are
`taglake catalog`'s plan, the Lake Formation grants are `taglake lake-formation plan`'s, the alarms watch the metrics
`taglake metrics put` publishes; the hand-written stacks agree with them on names, and every stack has its
parameters for every environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from infra_stacks import (
    ACCOUNT,
    ENV,
    INFRA,
    ROOT,
    STACKS,
    Resolver,
    all_stacks,
    load,
    parameters,
    params_file,
    resources,
)

from taglake.aws.glue_catalog import plan_catalog
from taglake.aws.lake_formation import plan_lake_formation
from taglake.cli import main
from taglake.core.sources import catalog_tables
from taglake.infra import names, render
from taglake.ops import metrics
from taglake.privacy.access_policy import load_access

pytestmark = pytest.mark.infra
ENVS = sorted(p.name for p in (INFRA / "params").iterdir() if p.is_dir())


def _resolver(stack: str) -> Resolver:
    return Resolver(parameters(load(stack), params_file(ENV, stack)))


def test_the_checked_in_generated_stacks_are_current() -> None:
    assert render.stale(ROOT) == []


def test_a_hand_edit_of_a_generated_stack_is_reported_stale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["infra", "render", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.yaml" for n in names.GENERATED)
    assert render.stale(ROOT, tmp_path) == []
    edited = tmp_path / "roles.yaml"
    edited.write_text(edited.read_text(encoding="utf-8").replace("glue:GetTable", "glue:*"), encoding="utf-8")
    assert render.stale(ROOT, tmp_path) == [str(edited)]
    capsys.readouterr()


def test_render_check_fails_with_one_line_naming_the_file_when_out_of_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(render, "stacks_dir", lambda root: tmp_path)  # an empty folder: every stack is missing
    assert main(["infra", "render", "--check"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "roles.yaml" in err[0] and "taglake infra render" in err[0] and "Traceback" not in err[0]


def test_the_catalog_stack_holds_exactly_the_catalog_plan() -> None:
    catalog = load("catalog")
    resolve = _resolver("catalog")
    bucket = f"taglake-{ENV}-{ACCOUNT}-raw"
    keys = f"s3://taglake-{ENV}-{ACCOUNT}-restricted/{names.KEYS_PREFIX}/"
    plan = plan_catalog(bucket=bucket, prefix=names.RAW_PREFIX, keys_location=keys)
    tables = {
        (r["Properties"]["DatabaseName"], r["Properties"]["TableInput"]["Name"]): resolve(r["Properties"]["TableInput"])
        for r in resources(catalog, "AWS::Glue::Table").values()
    }
    assert tables == {(db, t["Name"]): t for db, t in plan.tables}
    # partition projection's ${year} reaches Glue as written (escaped from Fn::Sub)
    some = next(iter(tables.values()))
    if "storage.location.template" in some["Parameters"]:
        assert some["Parameters"]["storage.location.template"].endswith("year=${year}/month=${month}/day=${day}/")
    databases = {
        resolve(r["Properties"]["DatabaseInput"]["Name"]) for r in resources(catalog, "AWS::Glue::Database").values()
    }
    dbt = {f"taglake_{layer}" for layer in load_access().layers if layer not in ("raw", "keys")}
    assert databases == set(plan.databases) | dbt
    assert {t.schema for t in catalog_tables().values()} <= databases


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return sorted((_norm(v) for v in value), key=repr)
    return value


def test_the_lake_formation_stack_grants_exactly_the_lake_formation_plan() -> None:
    lf = load("lake-formation")
    resolve = _resolver("lake-formation")
    policy = load_access()
    tables = catalog_tables().values()
    plan = plan_lake_formation(
        policy,
        {r: f"arn:aws:iam::{ACCOUNT}:role/taglake-{ENV}-{r.replace('_', '-')}" for r in policy.roles},
        athena_schema="taglake",
        raw_databases={t.schema for t in tables if not t.restricted},
        keys_databases={t.schema for t in tables if t.restricted},
        catalog_id=ACCOUNT,
    )
    wanted = [g.request(ACCOUNT) for g in plan.grants if "Catalog" not in g.resource]
    have = [resolve(r["Properties"]) for r in resources(lf, "AWS::LakeFormation::PrincipalPermissions").values()]
    have = [
        {
            "Principal": h["Principal"],
            "Resource": h["Resource"],
            "Permissions": h["Permissions"],
            "PermissionsWithGrantOption": h["PermissionsWithGrantOption"],
            "CatalogId": h["Catalog"],
        }
        for h in have
    ]
    assert _norm(have) == _norm(wanted)
    tags = {
        r["Properties"]["TagKey"]: r["Properties"]["TagValues"]
        for r in resources(lf, "AWS::LakeFormation::Tag").values()
    }
    assert tags == {k: list(v) for k, v in plan.tags.items()}
    layers = {
        resolve(r["Properties"])["Resource"]["Database"]["Name"]: resolve(r["Properties"])["LFTags"][0]["TagValues"][0]
        for r in resources(lf, "AWS::LakeFormation::TagAssociation").values()
    }
    assert layers == dict(plan.database_layers)
    # the catalog grants left to `taglake lake-formation apply` are CREATE_DATABASE only
    assert {p for g in plan.grants if "Catalog" in g.resource for p in g.permissions} == {"CREATE_DATABASE"}


def test_the_alarms_watch_the_metrics_taglake_publishes_with_its_dimensions() -> None:
    monitoring = load("monitoring")
    alarms = [r["Properties"] for r in resources(monitoring, "AWS::CloudWatch::Alarm").values()]
    ours = [a for a in alarms if a["Namespace"] == metrics.NAMESPACE]
    assert {a["MetricName"] for a in ours} == {
        "ModelsFailed",
        "TestsFailed",
        "RunDurationSeconds",
        "BytesScanned",
        "FreshnessLagSeconds",
    }
    assert {a["MetricName"] for a in ours} <= set(metrics.METRICS)
    for alarm in ours:
        dims = [d["Name"] for d in alarm["Dimensions"]]
        assert dims[:2] == ["Environment", "Target"] and set(dims) <= {"Environment", "Target", "Source"}
        assert alarm["AlarmActions"] == [{"Fn::ImportValue": {"Fn::Sub": "taglake-${Environment}-AlertTopicArn"}}]
    sources = {d["Value"] for a in ours for d in a["Dimensions"] if d["Name"] == "Source"}
    assert sources == {t.name for t in catalog_tables().values() if not t.restricted}


def test_every_stack_has_parameters_for_every_environment_and_no_unknown_one() -> None:
    assert ENVS == ["dev", "prod"]
    stacks = all_stacks()
    assert set(stacks) == {name for name, _ in names.STACKS}
    for env in ENVS:
        assert {p.stem for p in (INFRA / "params" / env).glob("*.json")} == set(stacks)
        for name, template in stacks.items():
            given = params_file(env, name)
            declared = template.get("Parameters") or {}
            assert set(given) <= set(declared), (env, name, set(given) - set(declared))
            required = {p for p, spec in declared.items() if "Default" not in spec}
            assert required <= set(given), (env, name, required - set(given))
            assert given["Environment"] == env


def test_the_ingest_stack_runs_the_agreed_handler_with_the_agreed_environment() -> None:
    ingest = load("ingest")
    fn = ingest["Resources"]["IngestFunction"]["Properties"]
    env = _resolver("ingest")(fn["Environment"]["Variables"])
    assert fn["Handler"] == "taglake.ingest.app.handler"
    assert env == {
        "TAGLAKE_RAW_BUCKET": f"taglake-{ENV}-{ACCOUNT}-raw",
        "TAGLAKE_RAW_PREFIX": names.RAW_PREFIX,
        "TAGLAKE_IDEMPOTENCY_TABLE": "ref:IdempotencyTable",
        "POWERTOOLS_SERVICE_NAME": "taglake-ingest",
        "POWERTOOLS_METRICS_NAMESPACE": "taglake",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    table = ingest["Resources"]["IdempotencyTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    path = [
        ingest["Resources"][r]["Properties"]["PathPart"] for r in ("IngestResource", "SourceResource", "TableResource")
    ]
    assert path == ["ingest", "{source}", "{table}"]
    method = ingest["Resources"]["PostMethod"]["Properties"]
    assert method["HttpMethod"] == "POST" and method["ApiKeyRequired"] is True


def test_every_bucket_and_role_name_in_the_stacks_follows_the_shared_pattern() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in STACKS.glob("*.yaml"))
    import re

    kinds = set(re.findall(r"taglake-\$\{Environment\}-\$\{AWS::AccountId\}-([a-z]+)", text))
    assert kinds <= set(names.BUCKETS) and kinds == set(names.BUCKETS)
    exports = set(re.findall(r"taglake-\$\{Environment\}-([A-Za-z]+Arn)'?\}?", text))
    foundation_outputs = set(load("foundation")["Outputs"])
    roles_outputs = set(load("roles")["Outputs"])
    assert exports <= foundation_outputs | roles_outputs


def test_the_data_the_keys_and_the_secret_survive_a_stack_deletion() -> None:
    """Deleting a stack (or replacing a resource) never deletes data: the lake's buckets, the trail, the zone keys
    and the masking-key secret are retained; teardown removes them by hand (docs/deployment.md)."""
    kept = {"AWS::S3::Bucket", "AWS::KMS::Key", "AWS::SecretsManager::Secret"}
    for name in ("foundation", "audit"):
        for rid, resource in load(name)["Resources"].items():
            if resource["Type"] in kept and rid != "MwaaBucket":
                assert resource.get("DeletionPolicy") == "Retain" == resource.get("UpdateReplacePolicy"), (name, rid)


def test_infra_check_without_a_checkov_venv_is_one_line_naming_the_folder_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["infra", "check", "--checkov-venv", str(tmp_path / "nowhere")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bin/checkov" in err[0] and "make venv-checkov" in err[0] and "Traceback" not in err[0]


def test_the_retrieval_stack_is_derived_from_the_serve_code() -> None:
    """The handler, its table variable, the table's key and the routes come from taglake.serve: a route renamed in
    the code changes the stack (and `infra render --check` reports it stale)."""
    from taglake.infra import retrieval
    from taglake.serve import app, store

    stack = load("retrieval")
    fn = stack["Resources"]["Function"]["Properties"]
    assert fn["Handler"] == "taglake.serve.app.handler"
    assert fn["Environment"]["Variables"][app.CACHE_TABLE_ENV] == {"Ref": "CacheTable"}
    table = stack["Resources"]["CacheTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": store.TOKEN_KEY, "KeyType": "HASH"}]
    assert "TimeToLiveSpecification" not in table
    paths = set()
    for rid, resource in stack["Resources"].items():
        if resource["Type"] == "AWS::ApiGateway::Method":
            parts, parent = [], resource["Properties"]["ResourceId"]
            while "Ref" in parent:
                parts.insert(0, stack["Resources"][parent["Ref"]]["Properties"]["PathPart"])
                parent = stack["Resources"][parent["Ref"]]["Properties"]["ParentId"]
            paths.add((resource["Properties"]["HttpMethod"], "/" + "/".join(parts)))
            assert resource["Properties"]["ApiKeyRequired"] is True, rid
    assert paths == {("GET", "/customers/{customer_token}/tags"), ("POST", "/customers/tags/batch")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(app, "BATCH_ROUTE", "/customers/tags/many")
        moved = retrieval.render_retrieval()
    assert any(r["Properties"].get("PathPart") == "many" for r in moved["Resources"].values())


def test_the_dags_cache_table_is_the_one_the_retrieval_stack_makes() -> None:
    import sys

    from taglake.infra import retrieval

    sys.path.insert(0, str(ROOT / "dags"))
    try:
        from taglake_ops import commands
    finally:
        sys.path.remove(str(ROOT / "dags"))
    assert retrieval.TABLE_NAME.replace("${Environment}", "prod") == commands.tag_cache_table("prod")
    assert retrieval.REFRESH_ROLE in load_access().roles
