"""`taglake lineage emit`: OpenLineage events from the last dbt run (openlineage-dbt), file transport locally, HTTP
when OPENLINEAGE_URL says so; nothing leaves that must not (SQL, paths, meta beyond the allowlist, personal data,
key material)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from lineage_project import build_artifacts_project
from offline_env import ATHENA_ENV

from taglake.cli import main
from taglake.core.project import Project
from taglake.ops.lineage import EVENTS_FILE, NODE_META, LineageError, emit, lineage_dir, sanitise_manifest
from taglake.privacy.scan.canaries import collect_canaries
from taglake.privacy.scan.scanner import scan

pytestmark = [pytest.mark.lineage, pytest.mark.dbt]


@pytest.fixture(scope="module")
def emitted(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, list[dict]]:
    project = build_artifacts_project(built_project, tmp_path_factory.mktemp("ol"))
    count, where = emit(project, target="local")
    lines = Path(where).read_text(encoding="utf-8").splitlines()
    assert count == len(lines)
    return project, [json.loads(line) for line in lines]


def _models_built(project: Project) -> set[str]:
    run_results = json.loads((project.target_path / "run_results.json").read_text(encoding="utf-8"))
    return {r["unique_id"] for r in run_results["results"] if r["unique_id"].startswith("model.")}


def test_emit_writes_a_start_and_a_complete_per_built_model_to_target_lineage(emitted) -> None:
    project, events = emitted
    assert Path(lineage_dir(project) / EVENTS_FILE).is_file()
    completed = {
        e["job"]["facets"]["dbt_node"]["unique_id"]
        for e in events
        if e["eventType"] == "COMPLETE" and "dbt_node" in e["job"]["facets"]
    }
    started = {
        e["job"]["facets"]["dbt_node"]["unique_id"]
        for e in events
        if e["eventType"] == "START" and "dbt_node" in e["job"]["facets"]
    }
    assert _models_built(project) <= completed
    assert completed <= started


def test_a_staging_model_reads_its_raw_source_by_its_glue_name(emitted) -> None:
    _, events = emitted
    (event,) = [
        e
        for e in events
        if e["eventType"] == "COMPLETE"
        and e["job"]["facets"].get("jobType", {}).get("jobType") == "MODEL"
        and e["job"]["facets"].get("dbt_node", {}).get("alias") == "base_crm__customers"
    ]
    inputs = {i["name"] for i in event["inputs"]}
    assert any(name.endswith("raw_crm.customers") for name in inputs), inputs


def test_marts_carry_column_lineage_where_the_sql_parser_resolves_it(emitted) -> None:
    _, events = emitted
    with_columns = {
        o["name"].rsplit(".", 1)[-1]
        for e in events
        if e["eventType"] == "COMPLETE" and e["job"]["facets"].get("jobType", {}).get("jobType") == "MODEL"
        for o in e["outputs"]
        if o["facets"].get("columnLineage", {}).get("fields")
    }
    assert {"dim_customers", "fct_card_transactions", "stg_crm__customers"} <= with_columns


def test_events_carry_no_sql_no_paths_and_only_the_allowlisted_meta(emitted) -> None:
    project, events = emitted
    text = (lineage_dir(project) / EVENTS_FILE).read_text(encoding="utf-8")
    for needle in (
        "read_csv",
        "read_parquet",
        "masking_keys.csv",
        str(project.key_file),
        str(project.lake_dir),
        "select ",
    ):
        assert needle not in text, needle
    for event in events:
        assert "sql" not in event["job"]["facets"]
        for tag in event["run"]["facets"].get("tags", {}).get("tags", []):
            if tag["source"] == "DBT_META":
                assert tag["key"] in NODE_META
        for test in event["run"]["facets"].get("test", {}).get("tests", []):
            assert "content" not in test


def test_a_daily_runs_list_of_window_files_is_replaced_by_the_glue_name_as_the_glob_is() -> None:
    read = "read_csv('/lake/raw/crm/customers/year=*/month=*/day=*/*.csv', header=true, union_by_name=true)"
    folder = "/lake/raw/crm/customers"
    files = f"['{folder}/year=2026/month=10/day=31/c.csv', '{folder}/year=2026/month=11/day=1/o''k.csv']"
    listed = f"read_csv({files}, header=true, union_by_name=true)"
    other = "read_csv(['/lake/raw/crm/customers/x.csv'], header=false, union_by_name=true)"  # another read: left
    # another source read with the same options: its files are not under the glob's folder
    accounts = (
        "read_csv(['/lake/raw/core_banking/accounts/year=2026/month=10/day=31/a.csv'], header=true, union_by_name=true)"
    )
    manifest = {
        "sources": {"source.taglake.crm.customers": {"schema": "raw_crm", "name": "customers", "relation_name": read}},
        "nodes": {
            "model.taglake.daily": {"compiled_code": f"select * from {listed} where year > 2026", "columns": {}},
            "model.taglake.full": {"compiled_code": f"select * from {read}", "columns": {}},
            "model.taglake.other": {"compiled_code": f"select * from {other}", "columns": {}},
            "model.taglake.accounts": {"compiled_code": f"select * from {accounts}", "columns": {}},
        },
    }
    nodes = sanitise_manifest(manifest)["nodes"]
    assert nodes["model.taglake.daily"]["compiled_code"] == "select * from raw_crm.customers where year > 2026"
    assert nodes["model.taglake.full"]["compiled_code"] == "select * from raw_crm.customers"
    assert nodes["model.taglake.other"]["compiled_code"] == f"select * from {other}"
    assert nodes["model.taglake.accounts"]["compiled_code"] == f"select * from {accounts}"


def test_events_hold_no_raw_personal_value_nor_key_material(emitted) -> None:
    project, _ = emitted
    hits = scan(project.lake_dir, db_path=None, folders=[lineage_dir(project)], key_file=project.key_file)
    assert hits == []


def test_run_id_makes_every_event_a_child_of_that_run(built_project: Project, tmp_path: Path) -> None:
    project = build_artifacts_project(built_project, tmp_path)
    parent = str(uuid.uuid4())
    _, where = emit(project, target="local", run_id=parent)
    events = [json.loads(line) for line in Path(where).read_text(encoding="utf-8").splitlines()]
    assert events
    assert {e["run"]["facets"]["parent"]["run"]["runId"] for e in events} == {parent}


def test_on_the_athena_target_datasets_are_athenas_and_a_missing_setting_is_named(
    built_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the DAG's lineage task emits on Athena: every dataset in Athena's namespace, from profiles.yml's athena
    output (its settings from the environment, as on MWAA); without them, one line naming what to set."""
    project = build_artifacts_project(built_project, tmp_path)
    for name in ATHENA_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(LineageError, match="TAGLAKE_ATHENA_WORK_GROUP") as missing:
        emit(project, target="athena")
    assert str(missing.value).count("\n") == 0 and "profiles.yml target 'athena'" in str(missing.value)
    for name, value in ATHENA_ENV.items():
        monkeypatch.setenv(name, value)
    _, where = emit(project, target="athena")
    events = [json.loads(line) for line in Path(where).read_text(encoding="utf-8").splitlines()]
    namespaces = {d["namespace"] for e in events for d in [*e.get("inputs", []), *e.get("outputs", [])]}
    assert namespaces == {f"awsathena://athena.{ATHENA_ENV['TAGLAKE_AWS_REGION']}.amazonaws.com"}


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def lineage_backend() -> Iterator[tuple[str, list[dict]]]:
    """An OpenLineage HTTP backend on 127.0.0.1 that keeps what it is sent."""
    received: ClassVar[list[dict]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def test_openlineage_url_sends_the_events_over_http_and_writes_no_file(
    built_project: Project, tmp_path: Path, lineage_backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = lineage_backend
    project = build_artifacts_project(built_project, tmp_path)
    monkeypatch.setenv("OPENLINEAGE_URL", url)
    count, where = emit(project, target="local")
    assert where == "HttpTransport"
    assert count == len(received) > 0
    assert not (lineage_dir(project) / EVENTS_FILE).exists()
    assert all("sql" not in e["job"].get("facets", {}) for e in received)


def _plant(project: Project, *, description: str | None = None, meta: str | None = None) -> None:
    path = project.target_path / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    node = manifest["nodes"]["model.taglake.dim_customers"]
    if description is not None:
        next(iter(node["columns"].values()))["description"] = description
    if meta is not None:
        node["meta"]["example"] = meta
        node["config"]["meta"]["example"] = meta
    path.write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture(scope="module")
def raw_national_id(built_project: Project) -> str:
    """A national ID that is in the raw zone (so the leak scan knows it), as written there."""
    return sorted(v for v in collect_canaries(built_project.lake_dir, limit_per_kind=5)["national_id"] if v.isupper())[
        0
    ]


@pytest.mark.redteam
@pytest.mark.parametrize("spelling", ["plain", "fullwidth", "spaced"])
def test_a_national_id_planted_in_a_description_stops_the_emit_and_nothing_is_written(
    built_project: Project, tmp_path: Path, raw_national_id: str, spelling: str
) -> None:
    planted = {
        "plain": raw_national_id,
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in raw_national_id),
        "spaced": f"{raw_national_id[:4]} {raw_national_id[4:7]} {raw_national_id[7:]}",
    }[spelling]
    project = build_artifacts_project(built_project, tmp_path)
    _plant(project, description=f"e.g. customer {planted} (example)")
    with pytest.raises(LineageError) as refused:
        emit(project, target="local")
    assert raw_national_id not in str(refused.value)
    assert "national_id" in str(refused.value)
    assert not (lineage_dir(project) / EVENTS_FILE).exists()


@pytest.mark.redteam
def test_a_national_id_planted_in_meta_is_stripped_not_sent(
    built_project: Project, tmp_path: Path, raw_national_id: str
) -> None:
    project = build_artifacts_project(built_project, tmp_path)
    _plant(project, meta=raw_national_id)
    emit(project, target="local")
    text = (lineage_dir(project) / EVENTS_FILE).read_text(encoding="utf-8")
    assert raw_national_id not in text
    assert scan(project.lake_dir, db_path=None, folders=[lineage_dir(project)], key_file=project.key_file) == []


@pytest.mark.redteam
def test_a_bad_run_id_is_one_line_that_does_not_echo_it(
    capsys: pytest.CaptureFixture[str], raw_national_id: str
) -> None:
    assert main(["lineage", "emit", "--run-id", raw_national_id]) != 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--run-id" in err
    assert raw_national_id not in err
