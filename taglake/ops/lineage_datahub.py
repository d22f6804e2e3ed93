"""DataHub's view of the lake (`make lineage`, `taglake lineage datahub`): DataHub's own ingestion, in its own venv,
of the sanitised dbt artifacts and of the raw zone's Glue catalog, into one metadata file and DataHub lite.

Steps, all output under target/lineage/:
1. the sanitised artifacts (taglake.ops.lineage.write_sanitised) in a throwaway folder;
2. the raw Glue databases and tables, made by `taglake catalog` from the source YAML, in a moto_server started on
   127.0.0.1 for the run and stopped after (in production DataHub reads the real Glue catalog instead);
3. `datahub ingest` of the Glue source and of the dbt source (target platform glue, so a raw table is the Glue
   table it is and every model's upstream reaches it; zones, owners and PII classes by meta mapping), each to a
   file, merged into datahub_metadata.json;
4. `datahub ingest` of that file into DataHub lite (datahub_lite.db, SQLite: DataHub's default lite store).
The recipes are written beside the output (recipes/), so an operator can point them at the real GMS
(docs/operations.md, Lineage in DataHub).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from taglake.core.project import Project
from taglake.ops.lineage import (
    ZONES,
    LineageError,
    check_clean,
    key_material,
    lineage_dir,
    read_artifacts,
    write_sanitised,
)

METADATA_FILE = "datahub_metadata.json"
LITE_FILE = "datahub_lite.db"
REGION = "us-east-1"
MOTO_BUCKET = "taglake-raw"  # the raw bucket's name in the moto run (locations only; nothing is uploaded)
# The fake credentials moto accepts; never real ones (the run talks only to 127.0.0.1).
_MOTO_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class DataHubOutput:
    metadata_file: Path
    lite_file: Path | None  # None when sent to a GMS
    records: int


def dbt_recipe(artifacts: Mapping[str, Path], sink: Mapping[str, Any]) -> dict:
    """DataHub's dbt source over the sanitised artifacts. Target platform glue without the database name: a source
    is urn:li:dataset:(urn:li:dataPlatform:glue,raw_crm.customers,PROD), the Glue table the Glue source ingests, and
    every model's upstream lineage reaches it (column-level where the SQL parser resolves it). `meta.zone` becomes a
    glossary term (one of ZONES), `meta.owner` a group owner, a column's `meta.pii` the term `PII.<class>`."""
    config: dict[str, Any] = {
        "manifest_path": str(artifacts["manifest"]),
        "target_platform": "glue",
        "include_database_name": False,
        "include_compiled_code": False,
        "infer_dbt_schemas": True,
        "include_column_lineage": True,
        "enable_owner_extraction": True,  # meta.owner, as a group by the meta mapping below
        "write_semantics": "OVERRIDE",  # PATCH would need a running GMS to read the current aspects from
        "enable_meta_mapping": True,
        "meta_mapping": {
            "zone": {
                "match": "^(" + "|".join(ZONES) + ")$",
                "operation": "add_term",
                "config": {"term": "{{ $match }}"},
            },
            "owner": {"match": "^[a-z_]+$", "operation": "add_owner", "config": {"owner_type": "group"}},
        },
        "column_meta_mapping": {
            "pii": {"match": "^[a-z_]+$", "operation": "add_term", "config": {"term": "PII.{{ $match }}"}},
        },
        "env": "PROD",
    }
    if "catalog" in artifacts:
        config["catalog_path"] = str(artifacts["catalog"])
    if "sources" in artifacts:
        config["sources_path"] = str(artifacts["sources"])
    if "run_results" in artifacts:
        config["run_results_paths"] = [str(artifacts["run_results"])]
    return {"source": {"type": "dbt", "config": config}, "sink": dict(sink)}


def glue_recipe(sink: Mapping[str, Any], region: str = REGION) -> dict:
    """DataHub's Glue source over the raw databases (raw_*): tables, columns, descriptions, S3 locations. No Glue
    jobs (extract_transforms). The account and endpoint come from the environment (AWS's chain; moto locally)."""
    config: dict[str, Any] = {
        "aws_region": region,
        "extract_transforms": False,
        "database_pattern": {"allow": ["^raw_.*"]},
        "env": "PROD",
    }
    return {"source": {"type": "glue", "config": config}, "sink": dict(sink)}


def file_sink(path: Path) -> dict:
    return {"type": "file", "config": {"filename": str(path)}}


def lite_recipe(metadata_file: Path, lite_file: Path) -> dict:
    return {
        "source": {"type": "file", "config": {"path": str(metadata_file)}},
        "sink": {"type": "datahub-lite", "config": {"type": "sqlite", "config": {"file": str(lite_file)}}},
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server(timeout: float = 30.0) -> Iterator[str]:
    """A moto_server on 127.0.0.1 (a free port) for the run; its URL. Stopped (this process only) on exit."""
    server = Path(sys.executable).with_name("moto_server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise LineageError(f"moto_server on {url} did not start: is moto installed in .venv?") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tool_env(extra: Mapping[str, str] = {}) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DATAHUB_"))}
    env.update({"DATAHUB_TELEMETRY_ENABLED": "false", "DATAHUB_SUPPRESS_LOGGING_MANAGER": "1"})
    env.update(extra)
    return env


def _run(args: list[str], *, env: Mapping[str, str], what: str, log: Path) -> None:
    """Run a step; its output goes to the log file (under target/lineage/logs/), a failure is one line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as fh:
        done = subprocess.run(args, env=dict(env), stdout=fh, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise LineageError(f"{what} failed (exit {done.returncode}): see {log}")


def generate_catalog(project: Project, target: str = "local") -> None:
    """`dbt docs generate` (target/catalog.json: column types), keeping the last run's run_results.json, which
    docs generate would replace, so that DataHub still gets the build's test results."""
    from taglake.privacy.dbt_runner import run_dbt

    run_results = project.target_path / "run_results.json"
    kept = run_results.read_bytes() if run_results.is_file() else None
    try:
        run_dbt(project, ["docs", "generate"], target=target, quiet=True)
    finally:
        if kept is not None:
            run_results.write_bytes(kept)


def rest_sink(gms: str) -> dict:
    """DataHub's REST sink to a GMS; the token from DATAHUB_GMS_TOKEN (DataHub expands ${…} in recipes)."""
    return {"type": "datahub-rest", "config": {"server": gms, "token": "${DATAHUB_GMS_TOKEN}"}}


def _cli(datahub_venv: Path) -> Path:
    datahub = datahub_venv / "bin" / "datahub"
    if not datahub.is_file():
        raise LineageError(f"{datahub}: no DataHub CLI there; `make venv-datahub` prints the venv to pass")
    return datahub


def ingest(
    project: Project, datahub_venv: Path, *, glue_endpoint: str | None = None, gms: str | None = None
) -> DataHubOutput:
    """Steps 1-4 of the module doc. With `glue_endpoint` None, a moto_server is started for the Glue catalog and
    `taglake catalog` fills it; "aws" reads the account's own Glue catalog, a URL that endpoint. The metadata file
    is checked (taglake.ops.lineage.check_clean) before it goes anywhere: on a hit it is deleted and nothing is
    ingested. With `gms` (production), the checked file goes to that GMS over REST instead of DataHub lite."""
    datahub = _cli(datahub_venv)
    out = lineage_dir(project)
    recipes, logs = out / "recipes", out / "logs"
    recipes.mkdir(parents=True, exist_ok=True)
    artifacts = read_artifacts(project, need_run_results=False)
    metadata = out / METADATA_FILE
    lite = out / LITE_FILE
    with tempfile.TemporaryDirectory(prefix="taglake-datahub-") as tmp:
        staged = write_sanitised(artifacts, Path(tmp) / "dbt")
        parts = {"glue": Path(tmp) / "glue.json", "dbt": Path(tmp) / "dbt_metadata.json"}
        _write_recipe(recipes / "dbt.yml", dbt_recipe(staged, file_sink(parts["dbt"])))
        _run([str(datahub), "ingest", "-c", str(recipes / "dbt.yml")], env=_tool_env(), what="datahub ingest dbt",
             log=logs / "dbt.log")  # fmt: skip
        if glue_endpoint is None:
            with moto_server() as url:
                _glue(datahub, recipes, logs, url, parts["glue"], make_catalog=True)
        else:
            _glue(datahub, recipes, logs, None if glue_endpoint == "aws" else glue_endpoint, parts["glue"])
        records = _merge([parts["glue"], parts["dbt"]], metadata)
    require_clean_metadata(project, metadata)
    if gms:
        recipe = {"source": {"type": "file", "config": {"path": str(metadata)}}, "sink": rest_sink(gms)}
        _write_recipe(recipes / "gms.yml", recipe)
        _run([str(datahub), "ingest", "-c", str(recipes / "gms.yml")], env=_tool_env(dict(os.environ)),
             what="datahub ingest to the GMS", log=logs / "gms.log")  # fmt: skip
        return DataHubOutput(metadata, None, records)
    if lite.exists():
        lite.unlink()
    _write_recipe(recipes / "lite.yml", lite_recipe(metadata, lite))
    _run([str(datahub), "ingest", "-c", str(recipes / "lite.yml")], env=_tool_env(), what="datahub ingest into lite",
         log=logs / "lite.log")  # fmt: skip
    return DataHubOutput(metadata, lite, records)


def require_clean_metadata(project: Project, metadata: Path) -> None:
    """DataHub's metadata file, checked before anything ingests it: a national-ID or mobile shape or the key's
    material deletes the file and raises LineageError naming the file (never the value)."""
    try:
        check_clean([(str(metadata), metadata.read_text(encoding="utf-8"))], key_material(project))
    except LineageError:
        metadata.unlink()
        raise


def _glue(datahub: Path, recipes: Path, logs: Path, url: str | None, sink: Path, *, make_catalog: bool = False) -> None:
    """The raw Glue catalog into `sink`. With make_catalog (moto): `taglake catalog` makes the raw databases and
    tables at `url` first, with moto's fake credentials. DataHub's Glue client reaches `url` through
    AWS_ENDPOINT_URL_GLUE (boto3 honours it; the Glue source's own aws_endpoint_url steers only its S3 reads)."""
    extra = {"AWS_ENDPOINT_URL_GLUE": url} if url else {}
    env = _tool_env({**_MOTO_ENV, **extra} if make_catalog else {**_aws_env(), **extra})
    if make_catalog and url:
        _run(
            [sys.executable, "-m", "taglake", "catalog", "--bucket", MOTO_BUCKET, "--region", REGION,
             "--endpoint-url", url],
            env=env, what="taglake catalog (moto)", log=logs / "catalog.log",
        )  # fmt: skip
    _write_recipe(recipes / "glue.yml", glue_recipe(file_sink(sink), os.environ.get("TAGLAKE_AWS_REGION", REGION)))
    _run([str(datahub), "ingest", "-c", str(recipes / "glue.yml")], env=env, what="datahub ingest glue",
         log=logs / "glue.log")  # fmt: skip


def _aws_env() -> dict[str, str]:
    """The caller's AWS settings (credential chain, profile, region), for reading the account's own Glue catalog."""
    return {k: v for k, v in os.environ.items() if k.startswith("AWS_")}


def _write_recipe(path: Path, recipe: Mapping[str, Any]) -> None:
    path.write_text(yaml.safe_dump(dict(recipe), sort_keys=False), encoding="utf-8")


def _merge(parts: list[Path], into: Path) -> int:
    records: list[Any] = []
    for part in parts:
        data = json.loads(part.read_text(encoding="utf-8"))
        records.extend(data if isinstance(data, list) else [data])
    into.write_text(json.dumps(records, indent=1, ensure_ascii=False), encoding="utf-8")
    return len(records)


# Run in the DataHub venv's Python: every entity of a lite store with all its aspects, as JSON on stdout.
_DUMP = """
import json, sys
from datahub.lite.lite_util import get_datahub_lite
lite = get_datahub_lite({"type": "sqlite", "config": {"file": sys.argv[1], "read_only": True}})
out = {}
for urn in lite.list_ids():
    got = lite.get(urn, aspects=None, typed=False)
    if got:
        out[urn] = got
lite.close()
json.dump(out, sys.stdout, default=str)
"""


def dump_lite(datahub_venv: Path, lite_file: Path) -> dict[str, dict]:
    """Every entity in the lite store, urn -> aspects (read with DataHub's own lite API in its venv)."""
    python = datahub_venv / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", _DUMP, str(lite_file)], env=_tool_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise LineageError(f"{lite_file}: DataHub lite could not be read (exit {done.returncode})")
    return json.loads(done.stdout)
