"""infra/stacks/catalog.yaml: the Glue databases and tables, generated from the source YAML.

The raw tables are exactly what `taglake catalog` registers (taglake.aws.glue_catalog.plan_catalog: the same
TableInput, columns, SerDe, partition projection), located in the environment's raw bucket under raw/, with the
masking key's table over the restricted bucket's key folder; beside them the empty databases dbt writes
(`<AthenaSchema>_<layer>` for every layer of vars.access but raw and keys), so Lake Formation can tag them before
the first build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from taglake.aws.glue_catalog import plan_catalog
from taglake.infra import names
from taglake.infra.template import logical_id, placeholder, resolve, template
from taglake.privacy.access_policy import AccessPolicy

RAW_BUCKET = "taglake-" + placeholder("Environment") + "-" + placeholder("AWS::AccountId") + "-raw"
KEYS_LOCATION = (
    "s3://taglake-"
    + placeholder("Environment")
    + "-"
    + placeholder("AWS::AccountId")
    + "-restricted/"
    + names.KEYS_PREFIX
    + "/"
)


def dbt_databases(policy: AccessPolicy) -> dict[str, str]:
    """`<schema>_<layer>` (Fn::Sub text) → description, for the layers dbt writes."""
    return {
        "${AthenaSchema}_" + layer: f"taglake {layer} layer (written by dbt)"
        for layer in policy.layers
        if layer not in ("raw", "keys")
    }


def render_catalog(policy: AccessPolicy, project_dir: Path | None = None) -> dict:
    plan = plan_catalog(
        bucket=RAW_BUCKET, prefix=names.RAW_PREFIX, keys_location=KEYS_LOCATION, project_dir=project_dir
    )
    resources: dict[str, Any] = {}
    for database, description in plan.databases.items():
        resources[logical_id("database", database)] = {
            "Type": "AWS::Glue::Database",
            "Properties": {
                "CatalogId": {"Ref": "AWS::AccountId"},
                "DatabaseInput": {"Name": database, "Description": description},
            },
        }
    for database, description in dbt_databases(policy).items():
        resources[logical_id("database", database.replace("${AthenaSchema}", "schema"))] = {
            "Type": "AWS::Glue::Database",
            "Properties": {
                "CatalogId": {"Ref": "AWS::AccountId"},
                "DatabaseInput": {"Name": {"Fn::Sub": database}, "Description": description},
            },
        }
    for database, table in plan.tables:
        resources[logical_id("table", database, table["Name"])] = {
            "Type": "AWS::Glue::Table",
            "DependsOn": logical_id("database", database),
            "Properties": {
                "CatalogId": {"Ref": "AWS::AccountId"},
                "DatabaseName": database,
                "TableInput": resolve(table),
            },
        }
    parameters = {
        "Environment": names.ENVIRONMENT_PARAMETER,
        "AthenaSchema": {
            "Type": "String",
            "Default": "taglake",
            "AllowedPattern": "^[a-z][a-z0-9_]{0,30}$",
            "Description": "TAGLAKE_ATHENA_SCHEMA: prefix of the Glue databases dbt writes",
        },
    }
    return template(
        "taglake Glue catalog: raw tables from the source YAML, the key table, dbt's databases", parameters, resources
    )


def raw_and_keys_databases(project_dir: Path | None = None) -> tuple[list[str], list[str]]:
    plan = plan_catalog(
        bucket=RAW_BUCKET, prefix=names.RAW_PREFIX, keys_location=KEYS_LOCATION, project_dir=project_dir
    )
    from taglake.core.sources import catalog_tables

    restricted = {t.schema for t in catalog_tables(project_dir).values() if t.restricted}
    raw = sorted(db for db in plan.databases if db not in restricted)
    return raw, sorted(restricted)
