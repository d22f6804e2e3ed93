"""Small dbt artifacts made by hand in the shapes dbt 1.11 writes (run_results v6, sources v3, manifest v12):
only the fields the schema requires, plus what a test sets. For tests that must not need a dbt build."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCHEMA = "https://schemas.getdbt.com/dbt/{kind}/v{version}.json"
# The manifest's other required maps, empty here.
MANIFEST_MAPS = (
    *("macros", "docs", "exposures", "metrics", "groups", "selectors", "disabled", "parent_map", "child_map"),
    *("group_map", "saved_queries", "semantic_models", "unit_tests"),
)


def _metadata(kind: str, version: int) -> dict[str, Any]:
    return {"dbt_schema_version": SCHEMA.format(kind=kind, version=version), "dbt_version": "1.11.0"}


def run_result(unique_id: str, status: str, seconds: float = 0.1) -> dict[str, Any]:
    return {
        "unique_id": unique_id,
        "status": status,
        "timing": [],
        "thread_id": "Thread-1",
        "execution_time": seconds,
        "adapter_response": {},
    }


def run_results(*results: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": _metadata("run-results", 6), "results": list(results), "elapsed_time": 1.0}


def freshness(unique_id: str, status: str, max_loaded_at: str, age_seconds: float = 0.0) -> dict[str, Any]:
    """A source dbt checked (status pass, warn or error)."""
    return {
        "unique_id": unique_id,
        "max_loaded_at": max_loaded_at,
        "snapshotted_at": "2026-12-01T00:00:00+00:00",
        "max_loaded_at_time_ago_in_s": age_seconds,
        "status": status,
        "criteria": {},
        "adapter_response": {},
        "timing": [],
        "thread_id": "Thread-1",
        "execution_time": 0.1,
    }


def freshness_failed(unique_id: str) -> dict[str, Any]:
    """A source whose freshness query itself failed."""
    return {"unique_id": unique_id, "status": "runtime error", "error": "query failed"}


def sources(*results: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": _metadata("sources", 3), "results": list(results), "elapsed_time": 1.0}


def model_node(name: str, sql: str, *, depends_on: tuple[str, ...] = (), enabled: bool = True) -> dict[str, Any]:
    return {
        "unique_id": f"model.taglake.{name}",
        "resource_type": "model",
        "name": name,
        "package_name": "taglake",
        "path": f"marts/{name}.sql",
        "original_file_path": f"models/marts/{name}.sql",
        "fqn": ["taglake", "marts", name],
        "alias": name,
        "schema": "taglake_marts",
        "checksum": {"name": "sha256", "checksum": "0"},
        "config": {"enabled": enabled, "materialized": "table"},
        "relation_name": f'"db"."taglake_marts"."{name}"',
        "compiled_code": sql,
        "depends_on": {"macros": [], "nodes": list(depends_on)},
    }


def seed_node(name: str) -> dict[str, Any]:
    return {
        "unique_id": f"seed.taglake.{name}",
        "resource_type": "seed",
        "name": name,
        "package_name": "taglake",
        "path": f"{name}.csv",
        "original_file_path": f"seeds/{name}.csv",
        "fqn": ["taglake", name],
        "alias": name,
        "schema": "taglake_reference",
        "checksum": {"name": "sha256", "checksum": "0"},
        "config": {"enabled": True, "materialized": "seed"},
        "relation_name": f'"db"."taglake_reference"."{name}"',
        "depends_on": {"macros": []},
    }


def source_node(source: str, table: str) -> dict[str, Any]:
    return {
        "unique_id": f"source.taglake.{source}.{table}",
        "resource_type": "source",
        "name": table,
        "source_name": source,
        "source_description": "",
        "loader": "",
        "identifier": table,
        "package_name": "taglake",
        "path": f"models/staging/{source}/_{source}__sources.yml",
        "original_file_path": f"models/staging/{source}/_{source}__sources.yml",
        "fqn": ["taglake", "staging", source, source, table],
        "schema": f"raw_{source}",
        "relation_name": f'"raw_{source}"."{table}"',
    }


def manifest(nodes: list[dict[str, Any]], source_nodes: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {
        "metadata": _metadata("manifest", 12),
        "nodes": {n["unique_id"]: n for n in nodes},
        "sources": {s["unique_id"]: s for s in source_nodes},
        **{name: {} for name in MANIFEST_MAPS},
    }


def write(path: Path, artifact: dict[str, Any]) -> Path:
    """`artifact` as dbt writes it (JSON) at `path`; the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(artifact), encoding="utf-8")
    return path
