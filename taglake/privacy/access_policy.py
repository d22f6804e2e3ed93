"""The access declaration: who reads what, read from the var `access` in dbt_project.yml (its one home).

Roles read datasets (a relation's `meta.dataset`, set per folder in dbt_project.yml) in the consumption layers, and
of them only the columns whose `pii` kind they list; service identities (pipeline, system) build and read layers.
The dbt side reads the same var (macros/aws/access.sql); docs/deployment.md § Roles and permissions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core.sources import project_var

# No person-facing role may ever read this kind (the bank's rule: only the system account sees clear data).
CLEAR = "clear"
# Layers that hold clear personal data or the key, or that no person needs: never in a person's SELECT.
RESTRICTED_LAYERS = ("raw", "keys", "staging", "intermediate", "vault")


class AccessError(ValueError):
    """The access declaration is inconsistent or would let a person read something forbidden."""


@dataclass(frozen=True)
class Role:
    name: str
    code: str
    datasets: tuple[str, ...] = ()  # person-facing: the datasets it reads
    pii: tuple[str, ...] = ()  # … and of them only columns of these kinds
    describe: tuple[str, ...] = ()  # layers whose metadata it reads (no data)
    builds: tuple[str, ...] = ()  # service: layers it writes
    reads: tuple[str, ...] = ()  # service: layers it reads besides
    redshift_group: str | None = None

    @property
    def is_service(self) -> bool:
        return bool(self.builds or self.reads)


@dataclass(frozen=True)
class AccessPolicy:
    layers: tuple[str, ...]
    consumption_layers: tuple[str, ...]
    pii_kinds: tuple[str, ...]
    datasets: Mapping[str, str]
    roles: Mapping[str, Role]

    def people(self) -> list[Role]:
        """The roles persons and applications hold (not the service identities)."""
        return [r for r in self.roles.values() if not r.is_service]

    def services(self) -> list[Role]:
        return [r for r in self.roles.values() if r.is_service]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise AccessError(f"dbt_project.yml vars access: {where} must be a list of names")
    return tuple(value)


def parse_access(doc: Mapping[str, Any]) -> AccessPolicy:
    """The declaration as data, checked: every name it uses is declared, and no person reads `clear` or a
    restricted layer."""
    if not isinstance(doc, Mapping):
        raise AccessError("dbt_project.yml vars access must be a mapping")
    layers = _strings(doc.get("layers"), "layers")
    consumption = _strings(doc.get("consumption_layers"), "consumption_layers")
    kinds = _strings(doc.get("pii_kinds"), "pii_kinds")
    datasets = doc.get("datasets") or {}
    if not layers or not consumption or not kinds or not datasets:
        raise AccessError("dbt_project.yml vars access needs layers, consumption_layers, pii_kinds and datasets")
    for layer in consumption:
        if layer not in layers:
            raise AccessError(f"dbt_project.yml vars access: consumption layer {layer} is not in layers")
        if layer in RESTRICTED_LAYERS:
            raise AccessError(f"dbt_project.yml vars access: {layer} may not be a consumption layer")
    roles: dict[str, Role] = {}
    for name, spec in (doc.get("roles") or {}).items():
        spec = spec or {}
        role = Role(
            name=name,
            code=str(spec.get("code", "")),
            datasets=_strings(spec.get("datasets"), f"roles.{name}.datasets"),
            pii=_strings(spec.get("pii"), f"roles.{name}.pii"),
            describe=_strings(spec.get("describe"), f"roles.{name}.describe"),
            builds=_strings(spec.get("builds"), f"roles.{name}.builds"),
            reads=_strings(spec.get("reads"), f"roles.{name}.reads"),
            redshift_group=spec.get("redshift_group"),
        )
        _check_role(role, layers, kinds, datasets)
        roles[name] = role
    if not roles:
        raise AccessError("dbt_project.yml vars access declares no roles")
    return AccessPolicy(layers, consumption, kinds, dict(datasets), roles)


def _check_role(role: Role, layers: tuple[str, ...], kinds: tuple[str, ...], datasets: Mapping[str, str]) -> None:
    where = f"dbt_project.yml vars access: role {role.name}"
    for dataset in role.datasets:
        if dataset not in datasets:
            raise AccessError(f"{where} reads dataset {dataset}, which is not declared under datasets")
    for kind in role.pii:
        if kind not in kinds:
            raise AccessError(f"{where} reads pii kind {kind}, which is not in pii_kinds")
    for layer in (*role.describe, *role.builds, *role.reads):
        if layer not in layers:
            raise AccessError(f"{where} names layer {layer}, which is not in layers")
    if role.is_service and (role.datasets or role.pii):
        raise AccessError(f"{where}: a service identity builds and reads layers; it lists no datasets or pii")
    if not role.is_service:
        if CLEAR in role.pii:
            raise AccessError(f"{where} may not read pii kind clear: only the system account sees clear data")
        if role.datasets and not role.pii:
            raise AccessError(f"{where} reads datasets but no pii kind (list none at least)")


def load_access(project_dir: Path | None = None) -> AccessPolicy:
    """The declaration as dbt_project.yml holds it."""
    return parse_access(project_var("access", project_dir))


def consumption_layers(project_dir: Path | None = None) -> tuple[str, ...]:
    """The layers people and applications may read at all (`vars.access.consumption_layers`), checked: never raw,
    keys, staging, intermediate or the vault. What `taglake query` reaches (taglake.ops.sql_policy,
    taglake.ops.consumption) is read from here, as the grants and Lake Formation policies are."""
    return load_access(project_dir).consumption_layers
