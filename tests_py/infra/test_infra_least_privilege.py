"""Least privilege, proved on the IAM policies of infra/ as data: every Allow statement of every role, resolved for
an environment, is evaluated (wildcards included) against the protected locations — the raw zone, the key folder,
dbt's data folders (staging, intermediate, the vault), the masking-key secret and the zone keys — and each location
is reachable only by the service identities the access declaration (vars.access) lets read it."""

from __future__ import annotations

import copy
from fnmatch import fnmatchcase
from typing import Any

import pytest
from infra_stacks import ACCOUNT, ENV, REGION, Resolver, all_stacks, parameters, params_file, resources

from taglake.privacy.access_policy import load_access

pytestmark = pytest.mark.infra

RAW = f"taglake-{ENV}-{ACCOUNT}"
# A sample object or resource of each protected location, and what reading it takes.
PROTECTED: dict[str, tuple[tuple[str, ...], str]] = {
    "raw objects": (
        ("s3:GetObject", "s3:GetObjectVersion"),
        f"arn:aws:s3:::{RAW}-raw/raw/crm/customers/year=2026/month=01/day=02/part.csv",
    ),
    "key folder": (
        ("s3:GetObject", "s3:GetObjectVersion"),
        f"arn:aws:s3:::{RAW}-restricted/restricted_keys/masking_keys/keys.csv",
    ),
    "dbt's tables (staging, intermediate)": (
        ("s3:GetObject",),
        f"arn:aws:s3:::{RAW}-curated/pipeline/taglake_staging/stg_crm__customers/x/part.parquet",
    ),
    "the vault's data": (
        ("s3:GetObject",),
        f"arn:aws:s3:::{RAW}-curated/system/taglake_vault/customer_identity/x/part.parquet",
    ),
    "the masking-key secret": (
        ("secretsmanager:GetSecretValue",),
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:taglake/{ENV}/masking-key-AbCdEf",
    ),
    "the raw key": (("kms:Decrypt",), f"import:taglake-{ENV}-RawKeyArn"),
    "the restricted key": (("kms:Decrypt",), f"import:taglake-{ENV}-RestrictedKeyArn"),
    "the curated key": (("kms:Decrypt",), f"import:taglake-{ENV}-CuratedKeyArn"),
}
GLUE_READ = ("glue:GetTable", "glue:GetTables", "glue:GetPartitions")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_statements(stacks: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Role name (without the taglake-<env>- prefix) → its Allow statements, resolved for ENV."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, template in stacks.items():
        resolve = Resolver(parameters(template, params_file(ENV, name)))
        for role in resources(template, "AWS::IAM::Role").values():
            props = resolve(role["Properties"])
            short = props["RoleName"].removeprefix(f"taglake-{ENV}-")
            statements = []
            for policy in props.get("Policies", []):
                statements += [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
            out[short] = statements
    return out


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    return any(
        any(fnmatchcase(action.lower(), a.lower()) for a in _as_list(s["Action"]))
        and any(fnmatchcase(resource, r) for r in _as_list(s["Resource"]))
        for s in statements
    )


def readers(roles: dict[str, list[dict[str, Any]]], location: str) -> set[str]:
    actions, sample = PROTECTED[location]
    return {name for name, st in roles.items() if any(allows(st, a, sample) for a in actions)}


def expected_readers(location: str) -> set[str]:
    """Who may read each location, from the declaration: the service identities whose reads/builds list its layer;
    the secret and the vault: the role that builds the vault (system)."""
    policy = load_access()

    def with_layer(layer: str) -> set[str]:
        return {r.name for r in policy.services() if layer in (*r.reads, *r.builds)}

    # Lake Formation's data-access role reads every location Lake Formation governs, for the principals its grants
    # allow (and is assumed by Lake Formation alone: test_lake_formations_role_is_assumed_by_lake_formation_only).
    lf = {"lake-formation-data-access"}
    return {
        "raw objects": with_layer("raw") | lf,
        "key folder": with_layer("keys") | lf,
        "dbt's tables (staging, intermediate)": (with_layer("staging") & with_layer("intermediate")) | lf,
        "the vault's data": with_layer("vault") | lf,
        "the masking-key secret": with_layer("vault"),
        "the raw key": with_layer("raw") | lf,
        "the restricted key": with_layer("keys") | lf,
        "the curated key": with_layer("staging") | lf,
    }[location]


@pytest.fixture(scope="module")
def roles() -> dict[str, list[dict[str, Any]]]:
    return role_statements(all_stacks())


def test_every_bank_role_and_the_service_identities_have_a_role(roles: dict[str, list[dict[str, Any]]]) -> None:
    declared = {name.replace("_", "-") for name in load_access().roles}
    assert declared | {"data-engineer", "ingest", "lake-formation-data-access"} <= set(roles)


@pytest.mark.parametrize("location", sorted(PROTECTED))
def test_only_the_declared_service_identities_reach_a_protected_location(
    roles: dict[str, list[dict[str, Any]]], location: str
) -> None:
    assert readers(roles, location) == expected_readers(location)
    people = {r.name.replace("_", "-") for r in load_access().people()} | {"data-engineer", "ingest"}
    assert not readers(roles, location) & people


def test_no_allow_statement_grants_a_whole_service_or_everything(roles: dict[str, list[dict[str, Any]]]) -> None:
    for name, statements in roles.items():
        for st in statements:
            for action in _as_list(st["Action"]):
                assert action != "*" and not action.endswith(":*"), (name, st["Sid"])
                assert "*" not in action or action.startswith(("kms:GenerateDataKey", "kms:ReEncrypt")), (name, action)


def test_a_person_reads_glue_metadata_only_of_consumption_layers_or_those_it_describes(
    roles: dict[str, list[dict[str, Any]]],
) -> None:
    policy = load_access()
    for role in policy.people():
        statements = roles[role.name.replace("_", "-")]
        for layer in policy.layers:
            db = {"raw": "raw_crm", "keys": "restricted_keys"}.get(layer, f"taglake_{layer}")
            table = f"arn:aws:glue:{REGION}:{ACCOUNT}:table/{db}/some_table"
            reachable = any(allows(statements, a, table) for a in GLUE_READ)
            assert reachable == (layer in policy.consumption_layers or layer in role.describe), (role.name, layer)


def test_a_person_queries_only_in_its_own_workgroup(roles: dict[str, list[dict[str, Any]]]) -> None:
    policy = load_access()
    for role in policy.roles.values():
        for other in policy.roles.values():
            wg = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/taglake-{ENV}-{other.name.replace('_', '-')}"
            ok = allows(roles[role.name.replace("_", "-")], "athena:StartQueryExecution", wg)
            assert ok == (role.name == other.name), (role.name, other.name)


@pytest.mark.redteam
def test_a_widened_analyst_policy_is_caught() -> None:
    """The evaluation is not vacuous: an analyst given s3:Get* on every bucket, or the secret through a wildcard,
    is reported as a reader."""
    stacks = copy.deepcopy(all_stacks())
    role = stacks["roles"]["Resources"]["AnalystRole"]["Properties"]
    role["Policies"][0]["PolicyDocument"]["Statement"].append(
        {
            "Sid": "Oops",
            "Effect": "Allow",
            "Action": ["s3:Get*", "secretsmanager:Get*"],
            "Resource": ["arn:aws:s3:::taglake-*/*", "arn:aws:secretsmanager:*:*:secret:taglake/*"],
        }
    )
    widened = role_statements(stacks)
    for location in ("raw objects", "key folder", "the vault's data", "the masking-key secret"):
        assert "analyst" in readers(widened, location)


def test_the_raw_and_restricted_bucket_policies_deny_reads_to_everyone_else() -> None:
    foundation = all_stacks()["foundation"]
    resolve = Resolver(parameters(foundation, params_file(ENV, "foundation")))
    allowed = {
        f"arn:aws:iam::{ACCOUNT}:role/taglake-{ENV}-{r}" for r in ("pipeline", "system", "lake-formation-data-access")
    }
    for bucket in ("RawBucketPolicy", "RestrictedBucketPolicy"):
        doc = resolve(foundation["Resources"][bucket]["Properties"]["PolicyDocument"])
        deny = next(s for s in doc["Statement"] if s["Sid"] == "ReadOnlyByServiceIdentities")
        assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and "s3:GetObject" in deny["Action"]
        exempt = set(deny["Condition"]["ArnNotLike"]["aws:PrincipalArn"])
        assert allowed <= exempt and all("taglake" not in a or a in allowed for a in exempt)


def test_only_the_system_role_may_read_the_masking_key_secret_by_its_resource_policy() -> None:
    foundation = all_stacks()["foundation"]
    resolve = Resolver(parameters(foundation, params_file(ENV, "foundation")))
    doc = resolve(foundation["Resources"]["MaskingKeySecretPolicy"]["Properties"]["ResourcePolicy"])
    (deny,) = doc["Statement"]
    assert deny["Effect"] == "Deny" and "secretsmanager:GetSecretValue" in deny["Action"]
    assert deny["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/taglake-{ENV}-system"}
    }


def test_lake_formations_role_is_assumed_by_lake_formation_only() -> None:
    roles = all_stacks()["roles"]["Resources"]
    trust = roles["LakeFormationDataAccessRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {"Effect": "Allow", "Principal": {"Service": "lakeformation.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    lf = all_stacks()["lake-formation"]
    for location in resources(lf, "AWS::LakeFormation::Resource").values():
        assert location["Properties"]["UseServiceLinkedRole"] is False
        assert location["Properties"]["RoleArn"] == {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
            "taglake-${Environment}-lake-formation-data-access"
        }
