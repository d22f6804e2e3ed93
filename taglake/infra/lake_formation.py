"""infra/stacks/lake-formation.yaml: Lake Formation settings, registered locations, LF-tags, database tags and
grants — the plan `taglake lake-formation plan` computes (taglake.aws.lake_formation.plan_lake_formation), so the
template and the command grant exactly the same, from vars.access."""

from __future__ import annotations

from typing import Any

from taglake.aws.lake_formation import LfGrant, plan_lake_formation
from taglake.infra import names
from taglake.infra.roles import LAKE_FORMATION_DATA_ACCESS
from taglake.infra.template import logical_id, placeholder, resolve, template
from taglake.privacy.access_policy import AccessPolicy

# The buckets Lake Formation vends data from, through its data-access role (roles.yaml; a role of our own rather
# than the service-linked one, which has no grant on the buckets' KMS keys).
REGISTERED_BUCKETS = ("raw", "curated", "restricted")


def template_grants(grants: tuple[LfGrant, ...]) -> list[LfGrant]:
    """The plan's grants the template makes: all but CREATE_DATABASE on the catalog. The catalog stack creates every
    database dbt writes before the first build, so no identity needs to create one; and CloudFormation's
    PrincipalPermissions takes the catalog resource in a shape its schema and the API disagree on. `taglake
    lake-formation apply` (the same plan) grants it where a deployment wants it."""
    return [g for g in grants if "Catalog" not in g.resource]


def principal(role: str) -> str:
    return (
        "arn:"
        + placeholder("AWS::Partition")
        + ":iam::"
        + placeholder("AWS::AccountId")
        + ":role/taglake-"
        + placeholder("Environment")
        + "-"
        + role.replace("_", "-")
    )


def render_lake_formation(policy: AccessPolicy, raw_dbs: list[str], keys_dbs: list[str]) -> dict:
    plan = plan_lake_formation(
        policy,
        {name: principal(name) for name in policy.roles},
        athena_schema=placeholder("AthenaSchema"),
        raw_databases=raw_dbs,
        keys_databases=keys_dbs,
        catalog_id=placeholder("AWS::AccountId"),
    )
    resources: dict[str, Any] = {
        "DataLakeSettings": {
            "Type": "AWS::LakeFormation::DataLakeSettings",
            "Properties": {
                "Admins": [{"DataLakePrincipalIdentifier": {"Ref": "LakeFormationAdminArn"}}],
                # No IAMAllowedPrincipals default: new databases and tables are governed by the grants below only.
                "CreateDatabaseDefaultPermissions": [],
                "CreateTableDefaultPermissions": [],
            },
        }
    }
    for kind in REGISTERED_BUCKETS:
        resources[logical_id("location", kind)] = {
            "Type": "AWS::LakeFormation::Resource",
            "Properties": {
                "ResourceArn": names.bucket_arn(kind),
                "UseServiceLinkedRole": False,
                "RoleArn": names.role_arn(LAKE_FORMATION_DATA_ACCESS),
            },
        }
    tag_ids = []
    for key, values in plan.tags.items():
        rid = logical_id("tag", key)
        tag_ids.append(rid)
        resources[rid] = {
            "Type": "AWS::LakeFormation::Tag",
            "DependsOn": "DataLakeSettings",
            "Properties": {"CatalogId": {"Ref": "AWS::AccountId"}, "TagKey": key, "TagValues": list(values)},
        }
    for database, layer in plan.database_layers.items():
        rid = logical_id("layer", database.replace(placeholder("AthenaSchema"), "schema"))
        resources[rid] = {
            "Type": "AWS::LakeFormation::TagAssociation",
            "DependsOn": tag_ids,
            "Properties": resolve(
                {
                    "Resource": {"Database": {"CatalogId": placeholder("AWS::AccountId"), "Name": database}},
                    "LFTags": [{"CatalogId": placeholder("AWS::AccountId"), "TagKey": "layer", "TagValues": [layer]}],
                }
            ),
        }
    for n, grant in enumerate(template_grants(plan.grants), start=1):
        request = grant.request(plan.catalog_id)
        resources[logical_id("grant", grant.role, f"{n:02d}")] = {
            "Type": "AWS::LakeFormation::PrincipalPermissions",
            "DependsOn": tag_ids,
            "Properties": resolve(
                {
                    "Catalog": request["CatalogId"],
                    "Principal": request["Principal"],
                    "Resource": request["Resource"],
                    "Permissions": request["Permissions"],
                    "PermissionsWithGrantOption": request["PermissionsWithGrantOption"],
                }
            ),
        }
    parameters = {
        "Environment": names.ENVIRONMENT_PARAMETER,
        "AthenaSchema": {
            "Type": "String",
            "Default": "taglake",
            "AllowedPattern": "^[a-z][a-z0-9_]{0,30}$",
            "Description": "TAGLAKE_ATHENA_SCHEMA: prefix of the Glue databases dbt writes",
        },
        "LakeFormationAdminArn": {
            "Type": "String",
            "AllowedPattern": "^arn:aws[a-z-]*:iam::\\d{12}:(role|user)/.+$",
            "Description": "The Lake Formation administrator (the role that deploys this stack)",
        },
    }
    return template(
        "taglake Lake Formation: LF-tags, database layers and tag-policy grants, from vars.access",
        parameters,
        resources,
    )
