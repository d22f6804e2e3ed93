"""The Redshift grants generated from the access declaration, compiled offline and checked as data (sqlglot)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from taglake.aws.access import compile_access_json
from taglake.core.project import Project
from taglake.core.sources import project_var
from taglake.privacy.access_policy import AccessPolicy, load_access
from taglake.privacy.dbt_runner import DbtError

# TAGLAKE_REDSHIFT_SCHEMA of the offline environment (taglake.verify.offline_compile.PLACEHOLDER_ENV)
SCHEMA = "taglake"
CONSUMPTION_SCHEMAS = {f"{SCHEMA}_marts", f"{SCHEMA}_reference", f"{SCHEMA}_snapshots"}
FORBIDDEN_SCHEMAS = {f"{SCHEMA}_staging", f"{SCHEMA}_intermediate", f"{SCHEMA}_vault", "restricted_keys"}
# Who each exposure serves (models/marts/*/_*__exposures.yml): their relations are what docs promise each role.
EXPOSURE_ROLE = {"application": "application", "ml": "data_scientist", "dashboard": "analyst"}


@dataclass(frozen=True)
class Granted:
    kind: str  # grant | revoke
    privilege: str
    columns: tuple[str, ...] | None  # None: the whole table
    object_kind: str  # TABLE | SCHEMA
    securable: str  # schema or schema.table
    principal: str  # group name, or public
    principal_kind: str  # GROUP or ''


def parse_statement(sql: str) -> list[Granted]:
    """A GRANT or REVOKE as data; anything else fails."""
    tree = sqlglot.parse_one(sql, read="redshift")
    assert isinstance(tree, exp.Grant | exp.Revoke), f"not a grant or revoke: {sql}"
    table = tree.args["securable"]
    securable = ".".join(p.name for p in (table.args.get("db"), table.this) if p is not None)
    out = []
    for privilege in tree.args["privileges"]:
        columns = tuple(c.name for c in privilege.expressions) or None
        for principal in tree.args["principals"]:
            out.append(
                Granted(
                    "grant" if isinstance(tree, exp.Grant) else "revoke",
                    privilege.this.name.lower(),
                    columns,
                    str(tree.args["kind"]).upper(),
                    securable.lower(),
                    principal.this.name.lower(),
                    str(principal.args.get("kind") or "").upper(),
                )
            )
    return out


@pytest.fixture(scope="module")
def redshift_access(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The statements, the plan of column kinds, and the manifest, for the redshift target, offline."""
    project = Project.locate()
    work = tmp_path_factory.mktemp("redshift_access")
    statements, plan = compile_access_json(
        project, "redshift", "[redshift_access_statements(), lake_formation_plan()]", artifacts_dir=work
    )
    manifest = json.loads((work / "redshift" / "target" / "manifest.json").read_text(encoding="utf-8"))
    return {"statements": statements, "plan": plan, "manifest": manifest}


def _groups(policy: AccessPolicy) -> dict[str, str]:
    return {r.name: r.redshift_group for r in policy.people() if r.redshift_group}


def _relations(manifest: dict) -> dict[str, dict]:
    """schema.table → manifest node, for every model, seed and snapshot built on the target."""
    out = {}
    for node in manifest["nodes"].values():
        config = node["config"]
        built = config.get("enabled", True) and config.get("materialized") != "ephemeral"
        if node["resource_type"] in ("model", "seed", "snapshot") and built:
            out[f"{node['schema']}.{node['alias']}".lower()] = node
    return out


def _kinds(plan: dict) -> dict[str, dict[str, str]]:
    """schema.table → column → pii kind, as the Lake Formation column tags have them."""
    out: dict[str, dict[str, str]] = {}
    for entry in plan.values():
        columns = out.setdefault(f"{entry['database']}.{entry['table']}", {})
        for kind, names in entry["config"]["tags_columns"]["pii"].items():
            columns.update(dict.fromkeys(names, kind))
    return out


def _select_grants(statements: list[str]) -> list[Granted]:
    return [g for s in statements for g in parse_statement(s) if g.kind == "grant" and g.object_kind == "TABLE"]


@pytest.mark.dbt
def test_every_statement_is_a_grant_or_revoke_to_a_declared_group(redshift_access: dict) -> None:
    groups = set(_groups(load_access()).values())
    assert groups == {"taglake_analyst", "taglake_data_scientist", "taglake_app", "taglake_data_manager"}
    parsed = [g for s in redshift_access["statements"] for g in parse_statement(s)]
    assert parsed
    for g in parsed:
        if g.kind == "grant":
            assert g.principal_kind == "GROUP" and g.principal in groups, g
            assert g.privilege in ("select", "usage"), g
        else:
            assert g.principal in groups | {"public"}, g


@pytest.mark.dbt
def test_each_role_is_granted_exactly_the_relations_docs_promise(redshift_access: dict) -> None:
    policy = load_access()
    groups = _groups(policy)
    relations = _relations(redshift_access["manifest"])
    granted: dict[str, set[str]] = {}
    for g in _select_grants(redshift_access["statements"]):
        granted.setdefault(g.principal, set()).add(g.securable)
    consumption = {name for name in relations if name.split(".")[0] in CONSUMPTION_SCHEMAS}
    assert consumption and len(consumption) >= 20
    # Analysts: every mart, reference seed and snapshot.
    assert granted[groups["analyst"]] == consumption
    # Applications and data scientists: exactly what their exposures read.
    by_role: dict[str, set[str]] = {}
    for exposure in redshift_access["manifest"]["exposures"].values():
        role = EXPOSURE_ROLE[exposure["type"]]
        for uid in exposure["depends_on"]["nodes"]:
            node = redshift_access["manifest"]["nodes"][uid]
            by_role.setdefault(role, set()).add(f"{node['schema']}.{node['alias']}".lower())
    assert by_role["application"] == {
        f"{SCHEMA}_marts.customer_tag_profile_v1",
        f"{SCHEMA}_marts.fct_customer_tags",
        f"{SCHEMA}_reference.tag_catalog",
    }
    assert granted[groups["application"]] == by_role["application"]
    assert granted[groups["data_scientist"]] == by_role["data_scientist"]
    assert by_role["analyst"] <= granted[groups["analyst"]]
    # Data managers: the data-quality marts only.
    quality = {n for n, node in relations.items() if node["original_file_path"].startswith("models/marts/quality/")}
    assert quality and granted[groups["data_manager"]] == quality
    # Schema usage follows: a group may enter exactly the schemas it reads something in.
    usage: dict[str, set[str]] = {}
    for s in redshift_access["statements"]:
        for g in parse_statement(s):
            if g.kind == "grant" and g.object_kind == "SCHEMA":
                usage.setdefault(g.principal, set()).add(g.securable)
    for group, names in granted.items():
        assert usage[group] == {n.split(".")[0] for n in names}, group


@pytest.mark.dbt
@pytest.mark.redteam
def test_nothing_is_granted_on_raw_keys_staging_intermediate_or_vault(redshift_access: dict) -> None:
    raw = {s["schema"].lower() for s in redshift_access["manifest"]["sources"].values()}
    forbidden = FORBIDDEN_SCHEMAS | raw
    assert {"raw_crm", "restricted_keys"} <= forbidden
    parsed = [g for s in redshift_access["statements"] for g in parse_statement(s)]
    for g in parsed:
        if g.kind == "grant":
            assert g.securable.split(".")[0] not in forbidden, g
            assert g.principal != "public", g
    # The public loses every right on every schema the project writes or reads.
    revoked = {g.securable for g in parsed if g.kind == "revoke" and g.principal == "public"}
    assert forbidden | CONSUMPTION_SCHEMAS <= revoked
    # Every relation outside the consumption layers is revoked from every group and granted to none.
    relations = _relations(redshift_access["manifest"])
    inner = [n for n in relations if n.split(".")[0] in FORBIDDEN_SCHEMAS]
    assert inner
    groups = set(_groups(load_access()).values())
    for name in inner:
        assert {g.principal for g in parsed if g.kind == "revoke" and g.securable == name} == groups, name


@pytest.mark.dbt
@pytest.mark.redteam
def test_no_grant_reaches_a_column_of_a_kind_its_role_may_not_read(redshift_access: dict) -> None:
    policy = load_access()
    classified = {
        name
        for source in redshift_access["manifest"]["sources"].values()
        for name, column in source["columns"].items()
        if (column.get("meta") or {}).get("pii") or (column.get("config", {}).get("meta") or {}).get("pii")
    }
    assert "national_id" in classified
    role_of = {g: r for r, g in _groups(policy).items()}
    kinds = _kinds(redshift_access["plan"])
    column_level = 0
    for g in _select_grants(redshift_access["statements"]):
        allowed = set(policy.roles[role_of[g.principal]].pii)
        columns = kinds[g.securable]
        assert columns, f"{g.securable} declares no columns: a grant would be blind"
        reached = g.columns if g.columns is not None else tuple(columns)
        for column in reached:
            assert column in columns, (g.securable, column)
            assert columns[column] in allowed and columns[column] != "clear", (g, column)
            assert column not in classified, (g, column)  # a classified source column under its own name
        if g.columns is not None:
            column_level += 1
            # … and the readable columns are all there: a column-level grant loses nothing the role may read.
            assert set(g.columns) == {c for c, k in columns.items() if k in allowed}, g
    # The data manager reads the quarantine but not its customer token: a column-level grant exists and is checked.
    assert column_level >= 1


@pytest.mark.dbt
@pytest.mark.redteam
def test_a_hostile_group_name_is_refused_without_being_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = "taglake_app; grant select on taglake_vault.vault_customer_identities to group x"
    monkeypatch.setenv("TAGLAKE_REDSHIFT_APPLICATION_GROUP", hostile)
    with pytest.raises(DbtError) as caught:
        compile_access_json(Project.locate(), "redshift", "redshift_access_statements()", artifacts_dir=tmp_path)
    message = str(caught.value)
    assert "TAGLAKE_REDSHIFT_APPLICATION_GROUP" in message and "not a plain lowercase identifier" in message
    assert "vault_customer_identities" not in message and hostile not in message


@pytest.mark.dbt
@pytest.mark.redteam
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"roles": {"analyst": {"pii": ["none", "clear"]}}}, "role analyst may not read pii kind clear"),
        ({"consumption_layers": ["marts", "staging"]}, "staging may not be a consumption layer"),
    ],
)
def test_the_dbt_side_refuses_a_declaration_that_widens_a_person(tmp_path: Path, change: dict, message: str) -> None:
    access = json.loads(json.dumps(project_var("access")))
    for key, value in change.items():
        if key == "roles":
            for role, spec in value.items():
                access["roles"][role].update(spec)
        else:
            access[key] = value
    with pytest.raises(DbtError, match=message):
        compile_access_json(
            Project.locate(),
            "redshift",
            "redshift_access_statements()",
            artifacts_dir=tmp_path,
            extra_vars={"access": access},
        )
