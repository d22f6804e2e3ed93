"""Lineage out of a dbt run: OpenLineage events (`taglake lineage emit`) and the artifacts DataHub ingests.

Both start from sanitised copies of dbt's artifacts (`sanitise_artifacts`): what leaves the project is the graph,
names, types, descriptions, zones, owners and personal-data classes, never SQL text, Jinja, file paths, the key
file's location, other `meta` or the messages of a run. The one allowlist of `meta` keys that may leave is
NODE_META / COLUMN_META below. The compiled SQL is kept in the sanitised manifest only so that column lineage can be
parsed from it, with each local source expression (`read_csv('…/lake/raw/…')`, or a daily run's list of the
window's files in place of the glob) replaced by the Glue table it stands for (`raw_crm.customers`); the events and
DataHub's metadata carry no SQL (`strip_event`, and the DataHub recipe's `include_compiled_code: false` with raw
code emptied).

Before anything is written or sent, every event is checked (`check_clean`): no national-ID or mobile shape
(taglake.privacy.patterns) and, when a local key file is there, no key material. docs/operations.md, Lineage in
DataHub.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core import targets
from taglake.core.artifacts import DBT_TEST_HASH, read_raw
from taglake.core.errors import TaglakeError
from taglake.core.project import Project

# The only `meta` keys that leave the project with a node (zone and owner: dbt_project.yml, one declaration per
# folder; dataset: the access declaration) and with a column (its personal-data class, from the source YAML).
NODE_META = ("zone", "owner", "dataset")
COLUMN_META = ("pii",)
ZONES = ("Raw", "Transformed", "Consumption", "Data Mart")

LINEAGE_DIR = "lineage"  # under target/
EVENTS_FILE = "openlineage.jsonl"
# The run_results args the OpenLineage processor reads; every other argument (vars, paths) stays behind.
_RUN_ARGS = ("which", "profiles_dir", "full_refresh", "select", "selector", "exclude", "target")
# The dbt commands whose run openlineage-dbt turns into events.
_RUN_COMMANDS = ("build", "run", "test", "seed", "snapshot")
# Personal-data shapes that never belong in lineage: a customer's national ID or mobile. (Owners' team e-mail
# addresses are metadata; a customer's e-mail is caught by the leak scan's canaries, tests_py/ops.)
_SHAPES = ("national_id", "mobile")


class LineageError(TaglakeError):
    """Lineage could not be produced or would carry what must not leave: the message names the place, no value."""


@dataclass(frozen=True)
class Artifacts:
    manifest: dict
    run_results: dict | None
    catalog: dict | None
    sources: dict | None


def lineage_dir(project: Project) -> Path:
    return project.target_path / LINEAGE_DIR


def read_artifacts(project: Project, *, need_run_results: bool = True) -> Artifacts:
    """The last run's artifacts in target/ (manifest always; run_results when asked; catalog and sources when
    there)."""
    target = project.target_path
    manifest = read_raw(target / "manifest.json", "manifest", 12, "dbt build")
    run_results = (
        read_raw(target / "run_results.json", "run-results", 6, "dbt build")
        if need_run_results or (target / "run_results.json").is_file()
        else None
    )
    catalog = (
        read_raw(target / "catalog.json", "catalog", 1, "dbt docs generate")
        if (target / "catalog.json").is_file()
        else None
    )
    sources = (
        read_raw(target / "sources.json", "sources", 3, "dbt source freshness")
        if (target / "sources.json").is_file()
        else None
    )
    return Artifacts(manifest, run_results, catalog, sources)


def _meta(meta: Any, keys: Iterable[str]) -> dict:
    return {k: meta[k] for k in keys if isinstance(meta, Mapping) and k in meta}


def _clean_columns(columns: Mapping[str, Any]) -> dict:
    out = {}
    for name, column in columns.items():
        column = dict(column)
        column["meta"] = _meta(column.get("meta"), COLUMN_META)
        if isinstance(column.get("config"), Mapping):
            column["config"] = {**column["config"], "meta": _meta(column["config"].get("meta"), COLUMN_META)}
        out[name] = column
    return out


def _plain_name(node: Mapping[str, Any]) -> str:
    return f"{node['schema']}.{node.get('identifier') or node.get('alias') or node['name']}"


_QUOTED = r"'(?:[^']|'')*'"


def _read_expression(relation_name: str) -> re.Pattern[str]:
    """The local read of a source as compiled SQL holds it: its relation name (`read_csv('<glob>', …)`), or the
    same read of a list of files in place of the glob (`read_csv(['<file>', …], …)`), which a daily run's
    windowed read of a CSV extract compiles to (macros/incremental/raw_source.sql)."""
    glob = re.match(rf"\s*\w+\(\s*({_QUOTED})", relation_name)
    if glob is None:
        return re.compile(re.escape(relation_name))
    before, after = relation_name[: glob.start(1)], relation_name[glob.end(1) :]
    # each listed file lies under the glob's folder (two sources may share every read option but their folder)
    folder = re.escape(glob.group(1)[1:].split("*")[0])
    listed = rf"\[\s*(?:'{folder}(?:[^']|'')*'\s*(?:,\s*)?)+\]"
    return re.compile(f"{re.escape(before)}(?:{re.escape(glob.group(1))}|{listed}){re.escape(after)}")


def sanitise_manifest(manifest: Mapping[str, Any]) -> dict:
    """A copy of the manifest that may leave: meta allowlisted, no raw code, macros, docs or unit tests; sources
    named by their Glue table, and their local read expressions replaced by that name in the compiled SQL."""
    out = copy.deepcopy(dict(manifest))
    source_names: dict[str, str] = {}
    for source in out.get("sources", {}).values():
        plain = _plain_name(source)
        if source.get("relation_name") and source["relation_name"] != plain:
            source_names[source["relation_name"]] = plain
        source["relation_name"] = plain
        source.pop("external", None)
        source["loaded_at_field"] = None
        source["source_meta"] = {}
        source["meta"] = _meta(source.get("meta"), NODE_META)
        source["config"] = {**source.get("config", {}), "meta": source["meta"]}
        source["config"].pop("loaded_at_field", None)
        source["columns"] = _clean_columns(source.get("columns", {}))
    longest_first = sorted(source_names, key=len, reverse=True)
    for node in out.get("nodes", {}).values():
        node["raw_code"] = ""
        code = node.get("compiled_code")
        if isinstance(code, str):
            for expression in longest_first:
                code = _read_expression(expression).sub(lambda _, plain=source_names[expression]: plain, code)
            node["compiled_code"] = code
        node["meta"] = _meta(node.get("meta"), NODE_META)
        if isinstance(node.get("config"), Mapping):
            node["config"] = {**node["config"], "meta": node["meta"]}
            node["config"].pop("post-hook", None)
            node["config"].pop("pre-hook", None)
        node["columns"] = _clean_columns(node.get("columns", {}))
    for exposure in out.get("exposures", {}).values():
        exposure["meta"] = _meta(exposure.get("meta"), NODE_META)
        if isinstance(exposure.get("config"), Mapping):
            exposure["config"] = {**exposure["config"], "meta": exposure["meta"]}
    for key in ("macros", "docs", "unit_tests", "functions"):
        if key in out:
            out[key] = {}
    out.get("metadata", {}).pop("env", None)
    return out


def sanitise_run_results(run_results: Mapping[str, Any]) -> dict:
    """run_results without the run's messages, compiled SQL or arguments beyond those naming the command."""
    out = copy.deepcopy(dict(run_results))
    out["args"] = {k: v for k, v in out.get("args", {}).items() if k in _RUN_ARGS}
    for result in out.get("results", []):
        result.pop("compiled_code", None)
        result["message"] = None
        result["relation_name"] = None
    out.get("metadata", {}).pop("env", None)
    return out


def sanitise_sources(sources: Mapping[str, Any]) -> dict:
    out = copy.deepcopy(dict(sources))
    for result in out.get("results", []):
        result.pop("adapter_response", None)
        result["error"] = None if "error" in result else result.get("error")
    out.get("metadata", {}).pop("env", None)
    return out


def sanitise_catalog(catalog: Mapping[str, Any]) -> dict:
    out = copy.deepcopy(dict(catalog))
    out.get("metadata", {}).pop("env", None)
    return out


def write_sanitised(artifacts: Artifacts, folder: Path) -> dict[str, Path]:
    """The sanitised artifacts as files in `folder` (manifest.json, run_results.json, catalog.json, sources.json
    where there was one): what DataHub's dbt source and the OpenLineage processor read."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {"manifest": folder / "manifest.json"}
    written["manifest"].write_text(_unshaped_ids(json.dumps(sanitise_manifest(artifacts.manifest))), encoding="utf-8")
    for name, data, clean in (
        ("run_results", artifacts.run_results, sanitise_run_results),
        ("catalog", artifacts.catalog, sanitise_catalog),
        ("sources", artifacts.sources, sanitise_sources),
    ):
        if data is not None:
            written[name] = folder / f"{name}.json"
            written[name].write_text(_unshaped_ids(json.dumps(clean(data))), encoding="utf-8")
    return written


# dbt ends a generic test's unique_id with 10 hex digits of a hash (`test.taglake.not_null_x.d955371978`): now and
# then a letter and 9 digits with a valid checksum, or 09 and 8 digits, i.e. a national-ID or mobile shape. The
# sanitised copies prefix it with `h`, consistently in every artifact, so an id is never taken for personal data
# and the shape check stays strict.
_TEST_ID_HASH = re.compile(rf"(\btest\.[A-Za-z0-9_]+\.[A-Za-z0-9_]+)\.({DBT_TEST_HASH})\b")


def _unshaped_ids(text: str) -> str:
    return _TEST_ID_HASH.sub(r"\1.h\2", text)


# --- OpenLineage -----------------------------------------------------------------------------------------------

# Job facets that carry SQL text; run facets the processor fills from the invocation (kept: dbt_run, tags).
_DROPPED_JOB_FACETS = ("sql", "sourceCode", "sourceCodeLocation")


def strip_event(event: dict) -> dict:
    """An OpenLineage event as a dict, without SQL text, and with the run's own error messages dropped."""
    job = event.get("job") or {}
    facets = job.get("facets") or {}
    for name in _DROPPED_JOB_FACETS:
        facets.pop(name, None)
    run_facets = (event.get("run") or {}).get("facets") or {}
    error = run_facets.get("errorMessage")
    if isinstance(error, dict):
        error["message"] = "failed: see the run's logs"
        error.pop("stackTrace", None)
    for test in (run_facets.get("test") or {}).get("tests") or []:
        test.pop("content", None)  # a test's compiled SQL
        test["params"] = {}
    for dataset in [*(event.get("inputs") or []), *(event.get("outputs") or [])]:
        for facets in (
            dataset.get("facets") or {},
            dataset.get("inputFacets") or {},
            dataset.get("outputFacets") or {},
        ):
            facets.pop("sql", None)
            for assertion in (facets.get("dataQualityAssertions") or {}).get("assertions") or []:
                assertion["params"] = {}  # a test's arguments (accepted values, expressions)
    return event


def check_clean(texts: Iterable[tuple[str, str]], key_material: Iterable[str] = ()) -> None:
    """Refuse (LineageError naming the place, never the value) when a text holds a national-ID or mobile shape or
    the key's material."""
    from taglake.privacy.patterns import find

    secrets = [s.lower() for s in key_material if s]
    for where, text in texts:
        found = find(text, _SHAPES)
        if found:
            raise LineageError(f"{where}: holds a {found[0].kind} shape: nothing was written or sent")
        lowered = text.lower()
        if any(s in lowered for s in secrets):
            raise LineageError(f"{where}: holds key material: nothing was written or sent")


def key_material(project: Project) -> set[str]:
    if not project.key_file.is_file():
        return set()
    from taglake.privacy.scan.canaries import key_canaries

    return key_canaries(project.key_file)


def openlineage_events(project: Project, *, target: str | None, run_id: str | None = None) -> list[dict]:
    """The OpenLineage events of the last dbt run in target/ (openlineage-dbt's DbtLocalArtifactProcessor over the
    sanitised artifacts), stripped and checked, as JSON-ready dicts. `run_id` becomes the parent run (the Airflow
    task's run, say), so that every node's run is linked to it."""
    from openlineage.client.serde import Serde
    from openlineage.common.provider.dbt.local import DbtLocalArtifactProcessor

    declared = targets.target_of(target, project.root)
    missing = declared.missing_env()
    if missing:
        raise LineageError(
            f"profiles.yml target {declared.name!r} reads {', '.join(missing)} from the environment: set "
            "them as for a build on that target (docs/deployment.md), then emit again"
        )
    artifacts = read_artifacts(project)
    which = (artifacts.run_results or {}).get("args", {}).get("which")
    if which not in _RUN_COMMANDS:
        raise LineageError(
            f"{project.target_path / 'run_results.json'}: from `dbt {which}`, not a run: emit right after "
            f"`dbt {' / '.join(_RUN_COMMANDS)}` (taglake build, run-daily)"
        )
    with tempfile.TemporaryDirectory(prefix="taglake-lineage-") as tmp:
        write_sanitised(artifacts, Path(tmp))
        processor = DbtLocalArtifactProcessor(
            producer="https://github.com/bank/taglake",
            project_dir=str(project.root),
            profile_name=None,
            target=target,
            target_path=tmp,
            job_namespace=os.environ.get("OPENLINEAGE_NAMESPACE", "taglake"),
            logger=_quiet_logger(),
        )
        if run_id:
            from openlineage.common.provider.dbt.processor import ParentRunMetadata

            processor.dbt_run_metadata = ParentRunMetadata(
                run_id=run_id, job_name="taglake-daily", job_namespace=processor.job_namespace
            )
        with _profiles_dir(project):
            dbt_events = processor.parse()
        events = [strip_event(json.loads(Serde.to_json(e))) for e in dbt_events.events()]
    key = key_material(project)
    check_clean(((_event_place(e), json.dumps(e, ensure_ascii=False)) for e in events), key)
    return events


def _quiet_logger() -> logging.Logger:
    """The processor's logger: its warnings print whole manifest nodes (compiled SQL included), so none pass."""
    logger = logging.getLogger("taglake.ops.lineage.openlineage_dbt")
    logger.setLevel(logging.CRITICAL)
    logger.propagate = False
    return logger


def _event_place(event: Mapping[str, Any]) -> str:
    job = event.get("job") or {}
    return f"OpenLineage event of {job.get('name', '?')} ({event.get('eventType', '?')})"


class _profiles_dir:
    """DBT_PROFILES_DIR pointing at the checkout's profiles.yml while the processor reads the profile."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.before: str | None = None

    def __enter__(self) -> None:
        self.before = os.environ.get("DBT_PROFILES_DIR")
        os.environ["DBT_PROFILES_DIR"] = str(self.project.root)

    def __exit__(self, *exc: object) -> None:
        if self.before is None:
            os.environ.pop("DBT_PROFILES_DIR", None)
        else:
            os.environ["DBT_PROFILES_DIR"] = self.before


def uses_configured_transport(env: Mapping[str, str]) -> bool:
    """Production: OPENLINEAGE_URL or OPENLINEAGE_CONFIG (an openlineage.yml) names the transport; else a file."""
    return bool(env.get("OPENLINEAGE_URL") or env.get("OPENLINEAGE_CONFIG"))


def emit(project: Project, *, target: str | None, run_id: str | None = None) -> tuple[int, str]:
    """Emit the last run's events through an OpenLineage transport: the one OPENLINEAGE_URL or OPENLINEAGE_CONFIG
    (an openlineage.yml) configures when set (HTTP to the lineage backend in production), else the file transport,
    appending one JSON line per event to target/lineage/openlineage.jsonl. Returns (events, where they went)."""
    events = openlineage_events(project, target=target, run_id=run_id)
    if uses_configured_transport(os.environ):
        from openlineage.client import OpenLineageClient

        transport = OpenLineageClient().transport
        where = type(transport).__name__
    else:
        from openlineage.client.transport.file import FileConfig, FileTransport

        out = lineage_dir(project) / EVENTS_FILE
        out.parent.mkdir(parents=True, exist_ok=True)
        transport = FileTransport(FileConfig(log_file_path=str(out), append=True))
        where = str(out)
    for event in events:
        transport.emit(event)  # type: ignore[arg-type]  (Serde serialises a dict as it is)
    return len(events), where
