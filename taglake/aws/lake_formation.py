"""Lake Formation, generated from the access declaration (`taglake lake-formation plan|apply`).

What it makes: the LF-tags `layer`, `dataset` and `pii` with every declared value; the `layer` tag on each Glue
database (raw_*, restricted_keys, and the `<schema>_<layer>` databases dbt writes; dbt's post-hook tags each table
and column it builds: macros/aws/lake_formation.sql); and per role, LF-tag policy grants:

- a person-facing role: DESCRIBE on the consumption databases and on the tables of its datasets, and SELECT on
  `layer in consumption_layers AND dataset in <its datasets> AND pii in <its kinds>`, which Lake Formation
  evaluates column by column: a column whose `pii` kind the role does not list is not readable, and a table or
  column with no tag is matched by nothing (fail closed);
- the data manager: also DESCRIBE on the databases and tables of the layers it describes, and on the LF-tags;
- a service identity (pipeline, system): CREATE_DATABASE on the catalog, CREATE_TABLE and ALL on the layers it
  builds, SELECT on those it reads, and DESCRIBE and ASSOCIATE on the LF-tags (dbt tags what it builds).

Applying is idempotent: a tag that exists with every value, a database already tagged, a grant already held are
left alone; a tag-policy or LF-tag grant a principal holds that the plan does not make is revoked, so the grants
are exactly the plan's.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from taglake.privacy.access_policy import AccessPolicy, Role


@dataclass(frozen=True)
class LfGrant:
    """One grant_permissions call: a principal, a resource (boto3 shape) and the permissions."""

    role: str
    principal: str
    resource: Mapping[str, Any]
    permissions: tuple[str, ...]

    def request(self, catalog_id: str | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {
            "Principal": {"DataLakePrincipalIdentifier": self.principal},
            "Resource": _with_catalog(self.resource, catalog_id),
            "Permissions": list(self.permissions),
            "PermissionsWithGrantOption": [],
        }
        if catalog_id:
            request["CatalogId"] = catalog_id
        return request


@dataclass(frozen=True)
class LfPlan:
    tags: Mapping[str, tuple[str, ...]]  # LF-tag key → its values
    database_layers: Mapping[str, str]  # Glue database → its `layer`
    grants: tuple[LfGrant, ...]
    catalog_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "lf_tags": {k: list(v) for k, v in self.tags.items()},
            "database_layers": dict(self.database_layers),
            "grants": [
                {"role": g.role, "principal": g.principal, "resource": g.resource, "permissions": list(g.permissions)}
                for g in self.grants
            ],
        }


@dataclass
class ApplyReport:
    rows: list[tuple[str, str]] = field(default_factory=list)

    def add(self, what: str, result: str) -> None:
        self.rows.append((what, result))

    @property
    def changed(self) -> int:
        return sum(1 for _, r in self.rows if r not in ("unchanged", "absent"))


def tag_values(policy: AccessPolicy) -> dict[str, tuple[str, ...]]:
    """Every LF-tag and its values, as declared."""
    return {"layer": policy.layers, "dataset": tuple(sorted(policy.datasets)), "pii": policy.pii_kinds}


def database_layers(
    policy: AccessPolicy, *, athena_schema: str, raw_databases: Iterable[str], keys_databases: Iterable[str]
) -> dict[str, str]:
    """Glue database → its layer: the raw databases, the key database, and `<schema>_<layer>` for the layers dbt
    writes (dbt's schema naming: the target schema, an underscore, the folder's schema)."""
    layers = {db: "raw" for db in raw_databases}
    layers.update({db: "keys" for db in keys_databases})
    for layer in policy.layers:
        if layer not in ("raw", "keys"):
            layers[f"{athena_schema}_{layer}"] = layer
    return dict(sorted(layers.items()))


def _expression(**keys: Iterable[str]) -> list[dict[str, Any]]:
    return [{"TagKey": k, "TagValues": sorted(v)} for k, v in keys.items()]


def _policy(resource_type: str, **keys: Iterable[str]) -> dict[str, Any]:
    return {"LFTagPolicy": {"ResourceType": resource_type, "Expression": _expression(**keys)}}


def role_grants(policy: AccessPolicy, role: Role, principal: str) -> list[LfGrant]:
    """The Lake Formation grants of one role, from the declaration alone."""
    grants: list[LfGrant] = []

    def grant(resource: dict[str, Any], *permissions: str) -> None:
        grants.append(LfGrant(role.name, principal, resource, tuple(permissions)))

    if role.is_service:
        grant({"Catalog": {}}, "CREATE_DATABASE")
        if role.builds:
            grant(_policy("DATABASE", layer=role.builds), "CREATE_TABLE", "DESCRIBE")
            grant(_policy("TABLE", layer=role.builds), "ALL")
        if role.reads:
            grant(_policy("DATABASE", layer=role.reads), "DESCRIBE")
            grant(_policy("TABLE", layer=role.reads), "SELECT", "DESCRIBE")
        for key, values in tag_values(policy).items():
            grant({"LFTag": {"TagKey": key, "TagValues": sorted(values)}}, "ASSOCIATE", "DESCRIBE")
        return grants
    if role.describe:
        grant(_policy("DATABASE", layer=role.describe), "DESCRIBE")
        grant(_policy("TABLE", layer=role.describe), "DESCRIBE")
        for key, values in tag_values(policy).items():
            grant({"LFTag": {"TagKey": key, "TagValues": sorted(values)}}, "DESCRIBE")
    if role.datasets:
        if not role.describe:
            grant(_policy("DATABASE", layer=policy.consumption_layers), "DESCRIBE")
            grant(_policy("TABLE", layer=policy.consumption_layers, dataset=role.datasets), "DESCRIBE")
        grant(_policy("TABLE", layer=policy.consumption_layers, dataset=role.datasets, pii=role.pii), "SELECT")
    return grants


def plan_lake_formation(
    policy: AccessPolicy,
    principals: Mapping[str, str],
    *,
    athena_schema: str,
    raw_databases: Iterable[str],
    keys_databases: Iterable[str],
    catalog_id: str | None = None,
) -> LfPlan:
    """Tags, database tags and grants for every declared role; `principals` maps each role to its IAM ARN."""
    missing = [r for r in policy.roles if not principals.get(r)]
    if missing:
        raise ValueError(
            f"no principal for role {', '.join(missing)}: pass --principal ROLE=ARN "
            "(or TAGLAKE_LF_PRINCIPAL_<ROLE>) for every role of vars access in dbt_project.yml"
        )
    unknown = sorted(set(principals) - set(policy.roles))
    if unknown:
        raise ValueError(f"--principal names role {', '.join(unknown)}, not a role of vars access in dbt_project.yml")
    grants = [g for name, role in policy.roles.items() for g in role_grants(policy, role, principals[name])]
    layers = database_layers(
        policy, athena_schema=athena_schema, raw_databases=raw_databases, keys_databases=keys_databases
    )
    return LfPlan(tag_values(policy), layers, tuple(grants), catalog_id)


def _with_catalog(resource: Mapping[str, Any], catalog_id: str | None) -> dict[str, Any]:
    out = json.loads(json.dumps(resource))
    if catalog_id:
        for inner in out.values():
            if isinstance(inner, dict) and "TableWildcard" not in inner:
                inner.setdefault("CatalogId", catalog_id)
        if "Catalog" in out:
            out["Catalog"] = {}
    return out


def _resource_key(resource: Mapping[str, Any]) -> str:
    """A resource, compared regardless of catalog id and of the order of tag values and expressions."""

    def norm(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: norm(v) for k, v in sorted(value.items()) if k != "CatalogId"}
        if isinstance(value, list):
            items = [norm(v) for v in value]
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return value

    return json.dumps(norm(resource), sort_keys=True)


def _managed(resource: Mapping[str, Any]) -> bool:
    """The grants this module owns on a principal: tag policies, LF-tags, the catalog."""
    return any(k in resource for k in ("LFTagPolicy", "LFTag", "Catalog"))


def _paged(call: Any, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        response = call(**kwargs)
        out.extend(response.get(key, []))
        token = response.get("NextToken")
        if not token:
            return out
        kwargs["NextToken"] = token


def apply_lake_formation(lf: Any, glue: Any, plan: LfPlan) -> ApplyReport:
    """Make Lake Formation hold the plan: tags, database tags (databases that exist), exactly the planned grants
    of each planned principal. Second run: every row `unchanged` (database tags are re-asserted, `set`)."""
    report = ApplyReport()
    catalog = {"CatalogId": plan.catalog_id} if plan.catalog_id else {}
    existing = {t["TagKey"]: set(t["TagValues"]) for t in _paged(lf.list_lf_tags, "LFTags", **catalog)}
    for key, values in plan.tags.items():
        if key not in existing:
            lf.create_lf_tag(TagKey=key, TagValues=list(values), **catalog)
            report.add(f"LF-tag {key}", "created")
        elif missing := [v for v in values if v not in existing[key]]:
            lf.update_lf_tag(TagKey=key, TagValuesToAdd=missing, **catalog)
            report.add(f"LF-tag {key}", f"added {', '.join(missing)}")
        else:
            report.add(f"LF-tag {key}", "unchanged")
    databases = {d["Name"] for d in _paged(glue.get_databases, "DatabaseList", **catalog)}
    for database, layer in plan.database_layers.items():
        if database not in databases:
            report.add(f"database {database}", "absent")  # dbt creates it at the first build: apply again then
            continue
        resource = {"Database": {"Name": database, **catalog}}
        response = lf.add_lf_tags_to_resource(Resource=resource, LFTags=[{"TagKey": "layer", "TagValues": [layer]}])
        if response.get("Failures"):
            raise RuntimeError(f"Lake Formation refused the layer tag on database {database}")
        report.add(f"database {database}", f"layer={layer}")
    held: dict[tuple[str, str], set[str]] = {}
    for entry in _paged(lf.list_permissions, "PrincipalResourcePermissions", **catalog):
        principal = entry["Principal"]["DataLakePrincipalIdentifier"]
        if _managed(entry["Resource"]):
            held.setdefault((principal, _resource_key(entry["Resource"])), set()).update(entry["Permissions"])
    planned: dict[tuple[str, str], set[str]] = {}
    for grant in plan.grants:
        key = (grant.principal, _resource_key(grant.resource))
        planned.setdefault(key, set()).update(grant.permissions)
        label = f"{grant.role}: {', '.join(grant.permissions)} on {_describe(grant.resource)}"
        if set(grant.permissions) <= held.get(key, set()):
            report.add(label, "unchanged")
        else:
            lf.grant_permissions(**grant.request(plan.catalog_id))
            report.add(label, "granted")
    principals = {g.principal for g in plan.grants}
    for entry in _paged(lf.list_permissions, "PrincipalResourcePermissions", **catalog):
        principal = entry["Principal"]["DataLakePrincipalIdentifier"]
        if principal not in principals or not _managed(entry["Resource"]):
            continue
        extra = set(entry["Permissions"]) - planned.get((principal, _resource_key(entry["Resource"])), set())
        if extra:
            lf.revoke_permissions(
                Principal=entry["Principal"],
                Resource=entry["Resource"],
                Permissions=sorted(extra),
                PermissionsWithGrantOption=[],
                **catalog,
            )
            report.add(f"{principal}: {', '.join(sorted(extra))} on {_describe(entry['Resource'])}", "revoked")
    return report


def _describe(resource: Mapping[str, Any]) -> str:
    if "LFTagPolicy" in resource:
        policy = resource["LFTagPolicy"]
        terms = " and ".join(f"{t['TagKey']} in ({', '.join(t['TagValues'])})" for t in policy["Expression"])
        return f"{policy['ResourceType'].lower()}s where {terms}"
    if "LFTag" in resource:
        return f"LF-tag {resource['LFTag']['TagKey']}"
    return "the catalog" if "Catalog" in resource else json.dumps(resource, sort_keys=True)


def lf_clients(region: str | None, endpoint_url: str | None) -> tuple[Any, Any]:
    """Lake Formation and Glue clients (credentials from the standard AWS chain)."""
    import boto3

    session = boto3.session.Session(region_name=region)
    return (
        session.client("lakeformation", endpoint_url=endpoint_url),
        session.client("glue", endpoint_url=endpoint_url),
    )
