"""The consumption marts a role reads, exported as Parquet in the layout EMR and SageMaker read (docs/ml.md).

On AWS the extracts live in the consumption bucket under `extracts/`; locally under a folder. The layout, one
folder per relation and as-of date:

    <root>/extracts/<dataset>/<relation>/as_of_date=<YYYY-MM-DD>/part-00000.parquet

Which relations: the models in the consumption layers (vars `access.consumption_layers`) whose dataset
(`meta.dataset`) a role reads (vars `access.roles.<role>.datasets`), taken from dbt's manifest of the build — the
access declaration is the one source, nothing is listed here. The data scientists' role reads the `features`
dataset: the versioned training-feature table and the monthly customer metrics. The values are copied as built:
masked in staging, checked by the guard; this module adds no column and reads no raw file.

Which columns: those Lake Formation lets the role SELECT. The plan is the one Athena enforces — each column's
LF-tags (`lake_formation_plan()`, macros/aws/lake_formation.sql: `layer`, `dataset`, `pii` = its kind) matched
against the role's tag-policy grants (taglake.aws.lake_formation.role_grants: SELECT where `pii` is one of the kinds
the role lists) — so an extract holds exactly what the role could read on Athena; a relation of which the role may
read no column is refused.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from taglake.core.artifacts import read_raw
from taglake.core.errors import TaglakeError
from taglake.privacy.access_policy import AccessPolicy, consumption_layers, load_access

EXTRACTS_PREFIX = "extracts"
PART_NAME = "part-00000.parquet"
DEFAULT_ROLE = "data_scientist"


class ExportError(TaglakeError):
    """An export that cannot be made: one line naming the file, relation or argument and the fix."""


@dataclass(frozen=True)
class Relation:
    dataset: str
    schema: str
    name: str  # the relation's name in the database (a versioned model's `<name>_v<n>`)


@dataclass(frozen=True)
class Exported:
    relation: Relation
    path: Path
    rows: int
    withheld: tuple[str, ...] = ()  # columns Lake Formation does not let the role read: left out


def _matches(expression: list[dict[str, Any]], tags: Mapping[str, str]) -> bool:
    return all(tags.get(term["TagKey"]) in term["TagValues"] for term in expression)


def readable_columns(
    policy: AccessPolicy, role: str, lf_plan: Mapping[str, Any], relations: list[Relation]
) -> dict[str, tuple[list[str], list[str]]]:
    """Relation name → (the columns the role may SELECT, those it may not), from the Lake Formation plan: the
    relation's column LF-tags (`lf_plan`: what `lake_formation_plan()` compiles to) against the role's SELECT
    tag-policy grants (taglake.aws.lake_formation.role_grants). A column the plan does not tag is not readable
    (Lake Formation matches no untagged column: fail closed)."""
    from taglake.aws.lake_formation import role_grants

    roles = {r.name: r for r in policy.people()}
    if role not in roles:
        raise ExportError(f"--role: not a person's role in vars.access.roles; one of {', '.join(sorted(roles))}")
    expressions = [
        g.resource["LFTagPolicy"]["Expression"]
        for g in role_grants(policy, roles[role], principal=role)
        if "SELECT" in g.permissions and g.resource.get("LFTagPolicy", {}).get("ResourceType") == "TABLE"
    ]
    by_table = {str(e["table"]): e["config"] for e in lf_plan.values()}
    out: dict[str, tuple[list[str], list[str]]] = {}
    for rel in relations:
        config = by_table.get(rel.name)
        if config is None:
            raise ExportError(f"{rel.name}: not in the Lake Formation plan (lake_formation_plan()); run taglake build")
        kinds = {c: kind for kind, cols in config["tags_columns"]["pii"].items() for c in cols}
        readable, withheld = [], []
        for column, kind in kinds.items():
            tags = {**config["tags"], "pii": kind}
            (readable if any(_matches(e, tags) for e in expressions) else withheld).append(column)
        out[rel.name] = (readable, withheld)
    return out


def lake_formation_plan(project: Any) -> dict[str, Any]:
    """What `lake_formation_plan()` compiles to over the project's graph (relation → its LF-tags and column tags),
    compiled for the local target without touching a database."""
    import json

    from taglake.privacy.dbt_runner import compile_inline

    return dict(json.loads(compile_inline(project, "{{ tojson(lake_formation_plan()) }}")))


def _layer_of(node: dict) -> str | None:
    """The layer of a model: its folder under models/ (staging, intermediate, marts, …)."""
    fqn = node.get("fqn") or []
    return fqn[1] if len(fqn) > 1 else None


def role_relations(manifest_path: Path, role: str = DEFAULT_ROLE, project_dir: Path | None = None) -> list[Relation]:
    """The built relations in the consumption layers whose dataset the role reads, sorted by name."""
    policy = load_access(project_dir)
    roles = {r.name: r for r in policy.people()}
    if role not in roles:
        raise ExportError(f"--role: not a person's role in vars.access.roles; one of {', '.join(sorted(roles))}")
    datasets = set(roles[role].datasets)
    layers = set(consumption_layers(project_dir))
    manifest = read_raw(manifest_path, "manifest", 12, "dbt parse")
    found: list[Relation] = []
    for node in manifest.get("nodes", {}).values():
        if node.get("resource_type") != "model" or node.get("config", {}).get("enabled") is False:
            continue
        dataset = (node.get("config", {}).get("meta") or {}).get("dataset")
        if dataset in datasets and _layer_of(node) in layers:
            found.append(Relation(dataset=dataset, schema=node["schema"], name=node.get("alias") or node["name"]))
    if not found:
        raise ExportError(f"{manifest_path}: no built relation of the datasets {sorted(datasets)}; run taglake build")
    return sorted(found, key=lambda r: r.name)


def extract_path(root: Path, relation: Relation, as_of: dt.date) -> Path:
    return root / EXTRACTS_PREFIX / relation.dataset / relation.name / f"as_of_date={as_of.isoformat()}" / PART_NAME


def build_as_of(db_path: Path, relations: list[Relation]) -> dt.date:
    """The build's as-of date: the latest `as_of_date` of the relations that have one."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for rel in relations:
            cols = {c[0] for c in con.execute(f'describe "{rel.schema}"."{rel.name}"').fetchall()}
            if "as_of_date" in cols:
                row = con.execute(f'select max(as_of_date) from "{rel.schema}"."{rel.name}"').fetchone()
                if row and row[0] is not None:
                    return row[0]
    except duckdb.Error as exc:
        raise ExportError(f"{db_path}: cannot be read ({type(exc).__name__}); run taglake build") from None
    finally:
        con.close()
    raise ExportError(f"{db_path}: no relation with an as_of_date to date the export; pass --as-of")


def export_relations(
    db_path: Path,
    relations: list[Relation],
    root: Path,
    as_of: dt.date,
    columns: Mapping[str, tuple[list[str], list[str]]] | None = None,
) -> list[Exported]:
    """Copy each relation from the DuckDB build to its Parquet extract (replacing an earlier one of that date);
    with `columns` (readable_columns), only the columns the role may read, in the relation's order."""
    if not db_path.is_file():
        raise ExportError(f"{db_path}: no such database; run taglake build (or pass --db)")
    con = duckdb.connect(str(db_path), read_only=True)
    out: list[Exported] = []
    try:
        for rel in relations:
            path = extract_path(root, rel, as_of)
            path.parent.mkdir(parents=True, exist_ok=True)
            source = f'"{rel.schema}"."{rel.name}"'
            select, withheld = "*", ()
            if columns is not None:
                readable = set(columns[rel.name][0])
                built = [c[0] for c in con.execute(f"describe {source}").fetchall()]
                keep = [c for c in built if c.lower() in readable]
                if not keep:
                    raise ExportError(f"{rel.name}: the role may read none of its columns (Lake Formation plan)")
                select = ", ".join('"' + c.replace('"', '""') + '"' for c in keep)
                withheld = tuple(c for c in built if c not in keep)
            try:
                con.execute(f"copy (select {select} from {source}) to '{path}' (format parquet, compression zstd)")
                rows = con.execute(f"select count(*) from {source}").fetchone()
            except duckdb.Error as exc:
                raise ExportError(f"{db_path}: {rel.schema}.{rel.name} cannot be read ({type(exc).__name__})") from None
            out.append(Exported(relation=rel, path=path, rows=int(rows[0]) if rows else 0, withheld=withheld))
    finally:
        con.close()
    return out
