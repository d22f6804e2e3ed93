"""Every command line the DAG runs, in one place: the taglake commands (from the dbt venv) and their arguments.

Each function returns argv (a list, never a shell string). `dbt_vars` is what every dbt invocation gets:
`--vars '{"taglake_run_id": "<Airflow run_id>"}'` (the quality history records by it).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path


def dbt_vars(run_id: str) -> dict[str, str]:
    return {"taglake_run_id": run_id}


def dbt_vars_arg(run_id: str) -> list[str]:
    return ["--vars", json.dumps(dbt_vars(run_id))]


def update_catalog(taglake: Path, bucket: str) -> list[str]:
    """The raw Glue tables from the source YAML (partition projection: new days need no partition calls)."""
    return [str(taglake), "catalog", "--bucket", bucket]


def source_freshness(taglake: Path, run_id: str) -> list[str]:
    return [str(taglake), "dbt", "source", "freshness", *dbt_vars_arg(run_id)]


def run_window(taglake: Path, target: str) -> list[str]:
    """The daily window of each incremental model, as the JSON the dbt build gets in TAGLAKE_RUN_WINDOW (`{}` on
    Athena and Redshift: their tables are checked whole)."""
    return [str(taglake), "run-window", "--target", target]


def leak_scan(taglake: Path, target: str) -> list[str]:
    """The leak scan of the run's build, by target:
    - local: the DuckDB build and dbt's target/ and logs/, against the raw zone's files and the key file;
    - athena, redshift (and their *_system targets): the tables the build wrote there, scanned IN the engine against
      the raw zone's tables and the key relation, counts only (the relations: dbt's target/manifest.json of the
      run, DBT_TARGET_PATH)."""
    if target.startswith("local"):
        return [str(taglake), "scan-pii"]
    return [str(taglake), "scan-pii", "--target", target]


def quality_record(taglake: Path, run_id: str, as_of: str) -> list[str]:
    """Quality history (issue 13 part 2): the run's tests, freshness and reconciliation appended by run id."""
    return [str(taglake), "quality", "record", "--run-id", run_id, "--as-of", as_of]


def metrics_put(taglake: Path, run_id: str, as_of: str) -> list[str]:
    """CloudWatch metrics of the run (issue 13 part 3)."""
    return [str(taglake), "metrics", "put", "--run-id", run_id, "--as-of", as_of]


def lineage_run_id(run_id: str) -> str:
    """OpenLineage's parent run id for an Airflow run: a UUID (OpenLineage's run ids are UUIDs, Airflow's are
    `scheduled__…`), the same for every retry of the same run."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"taglake_daily/{run_id}"))


def lineage_emit(taglake: Path, run_id: str) -> list[str]:
    """OpenLineage events of the run's dbt build, children of the Airflow run (the target: TAGLAKE_TARGET)."""
    return [str(taglake), "lineage", "emit", "--run-id", lineage_run_id(run_id)]


def check_key(taglake: Path) -> list[str]:
    """The masking key file: present, owner-only, well formed, and the key every local build was made with."""
    return [str(taglake), "keys", "status", "--strict"]


def alerts_publish(
    taglake: Path, run_id: str, as_of: str, environment: str, target: str, artifacts: Path, *, allow_stale: bool
) -> list[str]:
    """The end of a run: warned checks that ask for an alert (e.g. a quarantine spike at warn severity), and stale
    sources at warn level unless the run was allowed to go on past stale sources."""
    argv = [
        str(taglake), "alerts", "publish", "--run-id", run_id, "--as-of", as_of,
        "--environment", environment, "--target", target, "--artifacts", str(artifacts),
    ]  # fmt: skip
    return argv + (["--allow-stale"] if allow_stale else [])


def alerts_task_failed(
    taglake: Path,
    task_id: str,
    run_id: str,
    as_of: str,
    environment: str,
    target: str,
    artifacts: Path,
    *,
    error_class: str = "",
) -> list[str]:
    """The on-failure callback's one alert for a failed task."""
    argv = [
        str(taglake), "alerts", "task-failed", "--task-id", task_id, "--run-id", run_id, "--as-of", as_of,
        "--environment", environment, "--target", target, "--artifacts", str(artifacts),
    ]  # fmt: skip
    return argv + (["--error-class", error_class] if error_class else [])


def tag_cache_table(environment: str) -> str:
    """The DynamoDB table the tag retrieval Lambda reads: the retrieval stack's name for it (taglake.infra.retrieval
    TABLE_NAME, `taglake-<env>-tag-cache`; a test keeps the two equal)."""
    return f"taglake-{environment}-tag-cache"


def refresh_tag_cache(taglake: Path, target: str, environment: str, table: str = "") -> list[str] | None:
    """The tag cache's refresh after the build (docs/retrieval.md), by target:
    - athena: every customer's current tags from the marts on Athena into the environment's DynamoDB table;
    - local: a dry run into moto's in-memory DynamoDB from the local build — a local deployment serves the build
      itself (`taglake serve api`), so there is no table to refresh; the dry run proves the served relations are
      there and refresh as on AWS;
    - anything else (redshift): None — the refresh reads Athena or a local build, not Redshift."""
    if target.startswith("local"):
        return [str(taglake), "serve", "refresh-cache", "--moto"]
    if target.startswith("athena"):
        return [
            str(taglake),
            "serve",
            "refresh-cache",
            "--table",
            table or tag_cache_table(environment),
            "--from-athena",
        ]
    return None
