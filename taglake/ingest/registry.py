"""The schema registry: one JSON Schema per raw table and version, generated from the source YAML.

The source YAML (`taglake.core.sources`) is the one declaration of each raw table; this module turns a table into
the JSON Schema of one record as a client sends it (`record_schema`), and keeps the versions in
`taglake/ingest/json-schemas/<source>/<table>/v<N>.json` with `index.json` naming the live versions and each version's
change class and migration note. `check_registry` is the CI gate: the newest checked-in version must equal what
the YAML generates now, and every breaking step between versions must carry a migration note.

A change between two versions is classified by `classify`: compatible (a new optional field, a field no longer
required, a code list that only grows, a description) or breaking (a field removed or retyped, a new required
field, a field that becomes required, a narrower format or list).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core.sources import SourceColumn, SourceTable, read_seed, source_tables

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
INDEX_FILE = "index.json"
PLACEHOLDER_NOTE = "TODO"

# A typed (Parquet) column's JSON type; text columns are strings whatever they parse as.
_JSON_TYPES = {"int": "integer", "integer": "integer", "bigint": "integer", "double": "number", "boolean": "boolean"}


class RegistryError(ValueError):
    """The registry disagrees with the source YAML or with itself."""


def default_registry_dir() -> Path:
    """Where the checked-in versions are: taglake/ingest/json-schemas/ (shipped with the package, so the Lambda has
    them)."""
    return Path(__file__).resolve().parent / "json-schemas"


def _json_type(table: SourceTable, field: SourceColumn) -> dict[str, Any]:
    if field.content == "object":
        return {"type": "object"}
    if table.format in ("csv", "jsonl"):
        return {"type": "string"}  # read as text: staging parses and quarantines
    data_type = field.data_type.strip().lower()
    if data_type in _JSON_TYPES:
        return {"type": _JSON_TYPES[data_type]}
    if data_type.startswith("decimal"):
        return {"type": "string", "format": "decimal"}  # exact: a decimal string, never a binary float
    if data_type == "timestamp":
        return {"type": "string", "format": "date-time"}
    if data_type == "date":
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def _field_schema(table: SourceTable, field: SourceColumn, project_dir: Path | None) -> dict[str, Any]:
    schema: dict[str, Any] = _json_type(table, field)
    if field.description:
        schema["description"] = " ".join(field.description.split())
    extras: dict[str, Any] = {"x-taglake-data-type": field.data_type}
    if field.pii:
        extras["x-taglake-pii"] = field.pii
    if field.content:
        extras["x-taglake-content"] = field.content
    if field.parses_as:
        extras["x-taglake-parses-as"] = field.parses_as
    if field.case:
        extras["x-taglake-case"] = field.case
    if field.format:
        schema["pattern"] = field.format
    values = list(field.values)
    if field.reference and field.reference_column:
        values = sorted({row[field.reference_column] for row in read_seed(field.reference, project_dir)})
    if values:
        schema["enum"] = values
    if field.fields:
        schema["properties"] = {sub.name: _field_schema(table, sub, project_dir) for sub in field.fields}
        schema["additionalProperties"] = False
        required = [sub.name for sub in field.fields if sub.required]
        if required:
            schema["required"] = required
    if not field.required and schema.get("type") != "object":
        schema["type"] = [schema["type"], "null"]
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return {**schema, **extras}


def record_schema(table: SourceTable, project_dir: Path | None = None) -> dict[str, Any]:
    """The JSON Schema of one record of `table` (its file fields, in file order), from the source YAML."""
    fields = table.file_fields
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"taglake:{table.name}",
        "title": table.name,
        "description": table.description or table.source_description,
        "type": "object",
        "properties": {f.name: _field_schema(table, f, project_dir) for f in fields},
        "required": [f.name for f in fields if f.required],
        "additionalProperties": False,
        "x-taglake-format": table.format,
        "x-taglake-raw-prefix": table.raw_prefix,
        "x-taglake-partition-keys": [c.name for c in table.partition_keys],
    }


def generated_schemas(project_dir: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every raw table's record schema as the YAML declares it now, by `source.table`."""
    return {name: record_schema(t, project_dir) for name, t in sorted(source_tables(project_dir).items())}


# --- classification -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    field: str  # dotted for an object's key
    what: str  # added_optional, added_required, removed, retyped, became_required, became_optional, narrowed, ...
    breaking: bool

    def __str__(self) -> str:
        return f"{self.field}: {self.what}"


_TYPE_KEYS = ("type", "format", "x-taglake-data-type", "x-taglake-parses-as", "x-taglake-content", "x-taglake-case")


def _base_type(schema: dict[str, Any]) -> Any:
    t = schema.get("type")
    return next(x for x in t if x != "null") if isinstance(t, list) else t


def _field_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes: list[Change] = []
    if any((_base_type(old) if k == "type" else old.get(k)) != (_base_type(new) if k == "type" else new.get(k))
           for k in _TYPE_KEYS):  # fmt: skip
        changes.append(Change(name, "retyped", True))
    if old.get("pattern") != new.get("pattern"):
        changes.append(Change(name, "format_changed", True))
    old_enum, new_enum = old.get("enum"), new.get("enum")
    if old_enum != new_enum:
        if old_enum is not None and (new_enum is None or set(old_enum) <= set(new_enum)):
            changes.append(Change(name, "values_added", False))
        else:
            changes.append(Change(name, "values_narrowed", True))
    if "properties" in old or "properties" in new:
        changes.extend(_object_changes(name + ".", old, new))
    if (old.get("x-taglake-pii"), old.get("description")) != (new.get("x-taglake-pii"), new.get("description")):
        changes.append(Change(name, "described", False))
    return changes


def _object_changes(prefix: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    changes: list[Change] = []
    for name in old_props:
        if name not in new_props:
            changes.append(Change(prefix + name, "removed", True))
    for name, schema in new_props.items():
        if name not in old_props:
            required = name in new_req
            changes.append(Change(prefix + name, "added_required" if required else "added_optional", required))
            continue
        changes.extend(_field_changes(prefix + name, old_props[name], schema))
        if name in new_req and name not in old_req:
            changes.append(Change(prefix + name, "became_required", True))
        elif name in old_req and name not in new_req:
            changes.append(Change(prefix + name, "became_optional", False))
    if [n for n in old_props if n in new_props] != [n for n in new_props if n in old_props]:
        changes.append(Change(prefix.rstrip(".") or "(record)", "reordered", True))  # a CSV's column order
    return changes


def classify(old: dict[str, Any], new: dict[str, Any]) -> tuple[str, list[Change]]:
    """`("same" | "compatible" | "breaking", changes)` for a step from schema `old` to schema `new`."""
    changes = _object_changes("", old, new)
    if old.get("x-taglake-format") != new.get("x-taglake-format"):
        changes.append(Change("(record)", "format_changed", True))
    if not changes:
        return ("same" if old == new else "compatible"), changes
    return ("breaking" if any(c.breaking for c in changes) else "compatible"), changes


# --- the checked-in registry ----------------------------------------------------------------------------------


def read_index(registry_dir: Path | None = None) -> dict[str, Any]:
    path = (registry_dir or default_registry_dir()) / INDEX_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"tables": {}}


def _version_path(registry_dir: Path, table: str, version: int) -> Path:
    source, name = table.split(".", 1)
    return registry_dir / source / name / f"v{version}.json"


def read_version(table: str, version: int, registry_dir: Path | None = None) -> dict[str, Any]:
    path = _version_path(registry_dir or default_registry_dir(), table, version)
    return json.loads(path.read_text(encoding="utf-8"))


def live_versions(table: str, registry_dir: Path | None = None) -> list[int]:
    """The versions of `table` the API accepts (empty for a table the registry does not hold)."""
    entry = read_index(registry_dir)["tables"].get(table)
    return sorted(int(v) for v in entry["live"]) if entry else []


def current_version(table: str, registry_dir: Path | None = None) -> int:
    """The newest version of `table`: what its files are written in."""
    return int(read_index(registry_dir)["tables"][table]["current"])


def _dump(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_registry(project_dir: Path | None = None, registry_dir: Path | None = None) -> list[str]:
    """Bring the registry up to the YAML: a table whose generated schema differs from its newest version gets a
    new version (live beside the older live ones), classified; a breaking one gets a placeholder migration note
    that `check_registry` refuses until a person writes it. Returns one line per new version."""
    registry_dir = registry_dir or default_registry_dir()
    index = read_index(registry_dir)
    lines = []
    for name, schema in generated_schemas(project_dir).items():
        entry = index["tables"].get(name)
        if entry is None:
            version, change, note = 1, "initial", "First version."
            entry = index["tables"][name] = {"current": 1, "live": [], "versions": {}}
        else:
            newest = read_version(name, entry["current"], registry_dir)
            change, changes = classify(newest, schema)
            if change == "same":
                continue
            version = entry["current"] + 1
            summary = "; ".join(str(c) for c in changes) or "descriptions"
            note = f"Compatible: {summary}." if change == "compatible" else f"{PLACEHOLDER_NOTE}: {summary}."
        path = _version_path(registry_dir, name, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(schema), encoding="utf-8")
        entry["current"] = version
        entry["live"] = sorted({*entry["live"], version})
        entry["versions"][str(version)] = {"change": change, "migration": note}
        lines.append(f"{name}: v{version} ({change})")
    (registry_dir / INDEX_FILE).parent.mkdir(parents=True, exist_ok=True)
    (registry_dir / INDEX_FILE).write_text(_dump(index), encoding="utf-8")
    return lines


def check_registry(project_dir: Path | None = None, registry_dir: Path | None = None) -> list[str]:
    """Every problem with the registry, one line each naming the table and the fix (empty when it is current)."""
    registry_dir = registry_dir or default_registry_dir()
    index = read_index(registry_dir)
    problems = []
    generated = generated_schemas(project_dir)
    for name in sorted(set(index["tables"]) - set(generated)):
        problems.append(f"{name}: in the registry but no longer in the source YAML; keep it out of `live`")
    for name, schema in generated.items():
        entry = index["tables"].get(name)
        if entry is None:
            problems.append(f"{name}: not in the registry; run `taglake schema-registry write`")
            continue
        current = int(entry["current"])
        previous: dict[str, Any] | None = None
        for version in range(1, current + 1):
            path = _version_path(registry_dir, name, version)
            meta = entry["versions"].get(str(version))
            if not path.exists() or meta is None:
                problems.append(f"{name}: v{version} missing from {registry_dir.name}/ or index.json")
                previous = None
                continue
            doc = json.loads(path.read_text(encoding="utf-8"))
            if previous is not None:
                change, _ = classify(previous, doc)
                if change == "breaking":
                    note = str(meta.get("migration", "")).strip()
                    if not note or note.startswith(PLACEHOLDER_NOTE):
                        problems.append(
                            f"{name}: v{version} is a breaking change and needs a migration note "
                            f"(index.json versions.{version}.migration)"
                        )
                if meta.get("change") != change:
                    problems.append(f"{name}: v{version} is recorded as {meta.get('change')!s} but is {change}")
            previous = doc
        if current not in [int(v) for v in entry["live"]]:
            problems.append(f"{name}: its current version v{current} is not live (index.json live)")
        if previous is not None:
            change, changes = classify(previous, schema)
            if change != "same":
                what = "; ".join(str(c) for c in changes[:5]) or "descriptions"
                problems.append(
                    f"{name}: the source YAML has a {change} change not in the registry ({what}); "
                    "run `taglake schema-registry write` and commit the new version"
                    + (" with its migration note" if change == "breaking" else "")
                )
    return problems
