"""dbt's JSON artifacts (target/run_results.json, sources.json, manifest.json) read through typed models.

The models are the maintained `dbt-artifacts-parser`'s pydantic ones, for the schema versions dbt 1.11 writes:
run_results v6, sources v3, manifest v12. A file that is missing, is not JSON, is another artifact or another
version, or does not match its schema is one `ArtifactError` naming the file and what to do; never the file's
content (pydantic's own message quotes the offending input, so it is not passed on).

The manifest's models take about a second to import (dbt-artifacts-parser's `parser` module, which imports every
version of every artifact, takes more): they are imported on the first `read_manifest`, the version modules only.
"""

from __future__ import annotations

import json
import re
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dbt_artifacts_parser.parsers.run_results.run_results_v6 import Result as RunResult
from dbt_artifacts_parser.parsers.run_results.run_results_v6 import RunResultsV6 as RunResults
from dbt_artifacts_parser.parsers.sources.sources_v3 import Results as FreshnessCheckFailed
from dbt_artifacts_parser.parsers.sources.sources_v3 import Results1 as SourceFreshness
from dbt_artifacts_parser.parsers.sources.sources_v3 import SourcesV3 as Sources
from pydantic import BaseModel, ValidationError

from taglake.core.errors import TaglakeError

if TYPE_CHECKING:
    from dbt_artifacts_parser.parsers.manifest.manifest_v12 import ManifestV12 as Manifest

__all__ = [
    "ArtifactError",
    "FreshnessCheckFailed",
    "RunResult",
    "RunResults",
    "SourceFreshness",
    "Sources",
    "read_manifest",
    "read_raw",
    "read_run_results",
    "read_sources",
    "run_results_if_written",
    "sources_if_written",
]

# metadata.dbt_schema_version, e.g. https://schemas.getdbt.com/dbt/run-results/v6.json
_SCHEMA = re.compile(r"https://schemas\.getdbt\.com/dbt/(?P<kind>[a-z-]+)/v(?P<version>\d{1,3})\.json")

Model = TypeVar("Model", bound=BaseModel)


# The hash dbt appends to a generic test's unique_id (`test.taglake.not_null_x.d955371978`): ten hex digits that now
# and then read as a national ID or a mobile. The one pattern for it (the MWAA bundle's and lineage's checks).
DBT_TEST_HASH = "[0-9a-f]{10}"


class ArtifactError(TaglakeError):
    """A dbt artifact that is missing or is not one taglake reads: the message names the file, never its content."""


def read_run_results(path: Path) -> RunResults:
    """target/run_results.json of a `dbt build` (run, test, seed, snapshot, compile), schema v6."""
    return _read(path, RunResults, "run-results", 6, "dbt build")


def run_results_if_written(path: Path) -> RunResults | None:
    """read_run_results, or None when dbt wrote none (it failed before running a node)."""
    return read_run_results(path) if path.is_file() else None


def read_sources(path: Path) -> Sources:
    """target/sources.json of a `dbt source freshness`, schema v3."""
    return _read(path, Sources, "sources", 3, "dbt source freshness")


def sources_if_written(path: Path) -> Sources | None:
    """read_sources, or None when dbt wrote none (it failed before checking a source)."""
    return read_sources(path) if path.is_file() else None


def read_manifest(path: Path) -> Manifest:
    """target/manifest.json of any dbt command that parses the project, schema v12."""
    from dbt_artifacts_parser.parsers.manifest.manifest_v12 import ManifestV12

    return _read(path, ManifestV12, "manifest", 12, "dbt parse")


def read_raw(path: Path, kind: str, version: int, writer: str) -> dict:
    """An artifact as dbt wrote it (a dict), its kind and version checked but not its schema: for taglake.ops.lineage,
    which hands sanitised copies of manifest, catalog, run_results and sources to OpenLineage and DataHub."""
    return _checked_json(path, kind, version, writer)


def _read(path: Path, model: type[Model], kind: str, version: int, writer: str) -> Model:
    data = _checked_json(path, kind, version, writer)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = error.errors(include_input=False, include_url=False)
        names = _field_names(model.__module__)
        where = ".".join(_named(part, names) for part in problems[0]["loc"]) if problems else "?"
        raise ArtifactError(
            f"{path}: does not match dbt's {kind} v{version} schema ({len(problems)} problems, first at {where}): "
            f"rerun `{writer}`"
        ) from None


def _checked_json(path: Path, kind: str, version: int, writer: str) -> dict:
    what = f"dbt {kind.replace('-', '_')}.json v{version}"
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file; `{writer}` writes it: run that first")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ArtifactError(f"{path}: not JSON, so not a {what}: rerun `{writer}`") from None
    metadata = data.get("metadata") if isinstance(data, dict) else None
    schema = metadata.get("dbt_schema_version") if isinstance(metadata, dict) else None
    found = _SCHEMA.fullmatch(schema) if isinstance(schema, str) else None
    if found is None or found["kind"] != kind:
        raise ArtifactError(f"{path}: not a {what} (its metadata names no dbt {kind} schema): rerun `{writer}`")
    if int(found["version"]) != version:
        raise ArtifactError(
            f"{path}: a dbt {kind} v{int(found['version'])}, taglake reads v{version} (dbt 1.11): "
            f"rerun `{writer}` with the project's dbt"
        )
    return data


@cache
def _field_names(module: str) -> frozenset[str]:
    """Every field name (and alias) the artifact's schema declares: the only words of a location that are shown."""
    models = [m for m in vars(sys.modules[module]).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    return frozenset(n for m in models for name, f in m.model_fields.items() for n in (name, f.alias) if n)


def _named(part: str | int, names: frozenset[str]) -> str:
    """A part of an error's location as shown: an index or a declared field name; a key from the data is not."""
    return str(part) if isinstance(part, int) or part in names else "…"
