"""`taglake lake-formation apply` against moto: the LF-tags, database tags and tag-policy grants Lake Formation holds
afterwards are exactly the plan's, a second apply changes nothing, and a stale or widened grant is revoked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from taglake.aws.lake_formation import LfPlan, apply_lake_formation, plan_lake_formation
from taglake.cli import main
from taglake.core.sources import catalog_tables
from taglake.privacy.access_policy import load_access

SCHEMA = "taglake"
ACCOUNT = "123456789012"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "TAGLAKE_AWS_REGION": "ap-northeast-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "TAGLAKE_ATHENA_SCHEMA"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


def _principals() -> dict[str, str]:
    return {r: f"arn:aws:iam::{ACCOUNT}:role/taglake-{r}" for r in load_access().roles}


def _plan() -> LfPlan:
    tables = catalog_tables().values()
    return plan_lake_formation(
        load_access(),
        _principals(),
        athena_schema=SCHEMA,
        raw_databases={t.schema for t in tables if not t.restricted},
        keys_databases={t.schema for t in tables if t.restricted},
    )


def _databases(plan: LfPlan, absent: set[str]) -> None:
    glue = boto3.client("glue")
    for database in plan.database_layers:
        if database not in absent:
            glue.create_database(DatabaseInput={"Name": database})


def _key(resource: dict[str, Any]) -> str:
    def norm(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: norm(x) for k, x in sorted(v.items()) if k != "CatalogId"}
        if isinstance(v, list):
            return sorted((norm(x) for x in v), key=lambda x: json.dumps(x, sort_keys=True))
        return v

    return json.dumps(norm(resource), sort_keys=True)


def _held(lf: Any) -> set[tuple[str, str, str]]:
    """(principal, resource, permission) for every permission Lake Formation holds."""
    return {
        (p["Principal"]["DataLakePrincipalIdentifier"], _key(p["Resource"]), permission)
        for p in lf.list_permissions()["PrincipalResourcePermissions"]
        for permission in p["Permissions"]
    }


def _planned(plan: LfPlan) -> set[tuple[str, str, str]]:
    return {(g.principal, _key(dict(g.resource)), p) for g in plan.grants for p in g.permissions}


def test_apply_makes_lake_formation_hold_the_plan_and_a_second_apply_changes_nothing(aws: None) -> None:
    plan = _plan()
    _databases(plan, absent={f"{SCHEMA}_vault"})  # built later, by the system account
    lf = boto3.client("lakeformation")
    glue = boto3.client("glue")

    first = apply_lake_formation(lf, glue, plan)

    tags = {t["TagKey"]: sorted(t["TagValues"]) for t in lf.list_lf_tags()["LFTags"]}
    assert tags == {k: sorted(v) for k, v in plan.tags.items()}
    assert set(tags["pii"]) >= {"clear", "tokenized", "masked", "generalized", "redacted", "none"}
    for database, layer in plan.database_layers.items():
        if database == f"{SCHEMA}_vault":
            assert (f"database {database}", "absent") in first.rows
            continue
        got = lf.get_resource_lf_tags(Resource={"Database": {"Name": database}})["LFTagOnDatabase"]
        assert [(t["TagKey"], t["TagValues"]) for t in got] == [("layer", [layer])], database
    assert _held(lf) == _planned(plan)
    analyst = f"arn:aws:iam::{ACCOUNT}:role/taglake-analyst"
    selects = [
        p["Resource"]["LFTagPolicy"]["Expression"]
        for p in lf.list_permissions()["PrincipalResourcePermissions"]
        if p["Principal"]["DataLakePrincipalIdentifier"] == analyst and "SELECT" in p["Permissions"]
    ]
    assert len(selects) == 1
    assert {t["TagKey"]: set(t["TagValues"]) for t in selects[0]} == {
        "layer": {"marts", "reference", "snapshots"},
        "dataset": {"analytics", "tag_serving", "features", "quality", "reference", "history"},
        "pii": {"none", "tokenized", "masked", "generalized", "redacted"},
    }

    held_before = _held(lf)
    second = apply_lake_formation(lf, glue, plan)
    assert second.changed == len([d for d in plan.database_layers if d != f"{SCHEMA}_vault"])  # re-asserted tags
    assert all(r in ("unchanged", "absent") or r.startswith("layer=") for _, r in second.rows), second.rows
    assert _held(lf) == held_before
    assert {t["TagKey"]: sorted(t["TagValues"]) for t in lf.list_lf_tags()["LFTags"]} == tags


@pytest.mark.redteam
def test_apply_revokes_a_stale_or_widened_grant_and_completes_a_tag(aws: None) -> None:
    plan = _plan()
    _databases(plan, absent=set())
    lf = boto3.client("lakeformation")
    lf.create_lf_tag(TagKey="pii", TagValues=["clear", "none"])  # an older tag, values missing
    analyst = {"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:role/taglake-analyst"}
    app = {"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:role/taglake-application"}
    vault = {
        "LFTagPolicy": {
            "ResourceType": "TABLE",
            "Expression": [{"TagKey": "layer", "TagValues": ["vault"]}, {"TagKey": "pii", "TagValues": ["clear"]}],
        }
    }
    lf.grant_permissions(Principal=analyst, Resource=vault, Permissions=["SELECT"])
    app_select = next(g for g in plan.grants if g.role == "application" and "SELECT" in g.permissions)
    lf.grant_permissions(Principal=app, Resource=dict(app_select.resource), Permissions=["SELECT", "ALTER", "DROP"])
    other = {"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:role/someone-else"}
    lf.grant_permissions(Principal=other, Resource={"Database": {"Name": "raw_crm"}}, Permissions=["DESCRIBE"])

    report = apply_lake_formation(lf, boto3.client("glue"), plan)

    held = _held(lf)
    assert not any(p == analyst["DataLakePrincipalIdentifier"] and r == _key(vault) for p, r, _ in held)
    assert (app["DataLakePrincipalIdentifier"], _key(dict(app_select.resource)), "ALTER") not in held
    assert {h for h in held if h[0] != other["DataLakePrincipalIdentifier"]} == _planned(plan)
    assert (other["DataLakePrincipalIdentifier"], _key({"Database": {"Name": "raw_crm"}}), "DESCRIBE") in held
    assert sum(1 for _, r in report.rows if r == "revoked") == 2
    assert any(w == "LF-tag pii" and r.startswith("added ") for w, r in report.rows)
    tags = {t["TagKey"]: set(t["TagValues"]) for t in lf.list_lf_tags()["LFTags"]}
    assert tags["pii"] == set(plan.tags["pii"])


def test_the_command_plans_offline_and_applies_with_every_principal(
    aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lake-formation", "plan", "--athena-schema", SCHEMA]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["database_layers"]["raw_crm"] == "raw" and printed["database_layers"]["restricted_keys"] == "keys"
    assert any(g["principal"] == "<TAGLAKE_LF_PRINCIPAL_ANALYST>" for g in printed["grants"])
    assert boto3.client("lakeformation").list_permissions()["PrincipalResourcePermissions"] == []  # nothing called

    assert main(["lake-formation", "apply", "--athena-schema", SCHEMA]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no principal for role" in err[0] and "--principal ROLE=ARN" in err[0]

    args = [f"--principal={r}={arn}" for r, arn in _principals().items()]
    assert main(["lake-formation", "apply", "--athena-schema", SCHEMA, *args]) == 0
    out = capsys.readouterr().out
    assert "created" in out and "granted" in out
    assert _held(boto3.client("lakeformation")) == _planned(_plan())
