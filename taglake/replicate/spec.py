"""What is replicated, read from its one declaration (`vars.replication` in dbt_project.yml) and dbt's manifest.

Each relation's columns and types are its contract: a model's `contract: enforced` columns with their
`data_type`, a seed's `column_types`. The set is checked against the access declaration: every relation belongs
to a dataset the declared role reads, and every relation of those datasets is declared (the replica is the
application's copy, nothing more and nothing less). Identifiers are checked against Oracle's limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core.artifacts import read_manifest
from taglake.core.errors import TaglakeError
from taglake.core.sources import project_var
from taglake.privacy.access_policy import load_access

# Oracle before 12.2 allows 30 bytes per identifier, 12.2 and later 128: names are held to 30, so the replica
# works on every RDS Oracle version.
MAX_IDENTIFIER = 30
STAGING_SUFFIX = "_stg"
WATERMARK_TABLE = "taglake_repl_watermark"


class ReplicationError(TaglakeError):
    """The declaration, the contract or the replica does not fit: the message names the relation and the fix."""


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    nullable: bool


@dataclass(frozen=True)
class TableSpec:
    name: str  # the relation's name (alias), also its name in the replica
    schema: str  # its schema in the source (the manifest's)
    database: str | None
    columns: tuple[Column, ...]
    unique_key: tuple[str, ...]
    watermark: str | None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _declaration(project_dir: Path | None) -> tuple[str, Mapping[str, Any]]:
    try:
        decl = project_var("replication", project_dir)
    except KeyError:
        decl = None
    if not isinstance(decl, Mapping) or not isinstance(decl.get("relations"), Mapping) or not decl.get("role"):
        raise ReplicationError("dbt_project.yml vars.replication: needs `role` and `relations` (docs/replication.md)")
    return str(decl["role"]), decl["relations"]


def _contract_columns(node: Any, name: str) -> tuple[Column, ...]:
    if _kind(node) == "seed":
        types = dict(node.config.column_types or {})
        if not types:
            raise ReplicationError(f"seed {name}: declare its column_types (its contract) in seeds/_seeds__models.yml")
        return tuple(Column(col, str(typ), True) for col, typ in types.items())
    if not (node.config.contract and node.config.contract.enforced):
        raise ReplicationError(f"model {name}: replicated models need `contract: {{enforced: true}}` in their YAML")
    cols = []
    for col in node.columns.values():
        if not col.data_type:
            raise ReplicationError(f"model {name}, column {col.name}: the contract needs its data_type")
        not_null = any(getattr(c.type, "value", c.type) == "not_null" for c in col.constraints or [])
        cols.append(Column(col.name, str(col.data_type), not not_null))
    return tuple(cols)


def load_specs(manifest_path: Path, project_dir: Path | None = None) -> list[TableSpec]:
    """The replicated relations, in declaration order, checked (see the module)."""
    role_name, relations = _declaration(project_dir)
    policy = load_access(project_dir)
    role = policy.roles.get(role_name)
    if role is None or not role.datasets:
        raise ReplicationError(f"dbt_project.yml vars.replication.role: {role_name} is no reading role of vars.access")
    if not manifest_path.is_file():
        raise ReplicationError(f"{manifest_path}: no manifest; build first (taglake build) or pass --manifest")
    manifest = read_manifest(manifest_path)
    by_alias: dict[str, Any] = {}
    for node in manifest.nodes.values():
        if _kind(node) in ("model", "seed") and getattr(node.config, "enabled", True):
            by_alias[node.alias or node.name] = node
    specs = []
    for name, entry in relations.items():
        node = by_alias.get(name)
        if node is None:
            raise ReplicationError(f"vars.replication.relations.{name}: no such model or seed in the manifest")
        dataset = (node.config.meta or {}).get("dataset")
        layer = node.schema_.rsplit("_", 1)[-1]
        if dataset not in role.datasets or layer not in policy.consumption_layers:
            raise ReplicationError(
                f"vars.replication.relations.{name}: role {role_name} does not read it (dataset, layer): "
                "the replica holds only what the application may read"
            )
        entry = entry or {}
        key = tuple(entry.get("unique_key") or ())
        columns = _contract_columns(node, name)
        names = {c.name for c in columns}
        if not key or not set(key) <= names:
            raise ReplicationError(f"vars.replication.relations.{name}.unique_key: name columns of its contract")
        watermark = entry.get("watermark")
        if watermark is not None and watermark not in names:
            raise ReplicationError(f"vars.replication.relations.{name}.watermark: not a column of its contract")
        columns = tuple(Column(c.name, c.data_type, c.nullable and c.name not in key) for c in columns)
        for ident in (name + STAGING_SUFFIX, *names):
            if len(ident.encode()) > MAX_IDENTIFIER:
                raise ReplicationError(f"{name}: identifier {ident} is longer than Oracle's {MAX_IDENTIFIER} bytes")
        specs.append(TableSpec(name, node.schema_, node.database, columns, key, watermark))
    declared = {s.name for s in specs}
    for node in by_alias.values():
        if (node.config.meta or {}).get("dataset") in role.datasets and _latest(node) and node.alias not in declared:
            raise ReplicationError(
                f"{node.alias}: in a dataset role {role_name} reads but not in vars.replication.relations: declare it"
            )
    return specs


def _kind(node: Any) -> str:
    kind = node.resource_type
    return str(getattr(kind, "value", kind))


def _latest(node: Any) -> bool:
    """A versioned model's older versions are not replicated (only its latest)."""
    version, latest = getattr(node, "version", None), getattr(node, "latest_version", None)
    return version is None or latest is None or str(version) == str(latest)
