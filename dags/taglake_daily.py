"""taglake_daily: the bank's daily run of the tag lake on MWAA (Airflow 3.3.1, astronomer-cosmos 1.15.1).

wait_for_landing → update_catalog → check_key → source_freshness → run_window → dbt_build (cosmos task group)
→ leak_scan → refresh_tag_cache → quality_record → metrics → lineage → alerts_publish

The dbt build is a cosmos task group rendered from the bundle's manifest (LoadMode.DBT_MANIFEST: no dbt parse when
the DAG is parsed), run in ExecutionMode.WATCHER: one `dbt build` (the producer task), one watching task per node.
dbt and taglake run from their own venv (TAGLAKE_DBT_VENV, made by dags/startup.sh), never Airflow's.
Retries with exponential back-off where a retry can help (the sensor, the catalog, freshness, the steps after the
scan); none where it cannot (the dbt build and its tests, the leak scan). Each failed task sends ONE alert
(taglake alerts task-failed). docs/operations.md, "Deploying the DAG to MWAA", says all of this for operators.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # taglake_ops beside this file (MWAA: dags/)

from airflow.sdk import DAG, Param, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from taglake_ops import commands, runtime, settings

PATHS = settings.paths()
NETWORK_RETRY = {
    "retries": settings.NETWORK_RETRIES,
    "retry_delay": settings.RETRY_DELAY,
    "retry_exponential_backoff": True,
    "max_retry_delay": settings.MAX_RETRY_DELAY,
}
NO_RETRY = {"retries": 0}
ALERT = {"on_failure_callback": runtime.alert_task_failed}

with DAG(
    dag_id="taglake_daily",
    description="the daily run of the tag lake: landing, catalog, freshness, dbt build, leak scan, quality, lineage",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=settings.DAGRUN_TIMEOUT,
    on_failure_callback=runtime.alert_run_timed_out,
    default_args={"owner": "data-engineering", "retries": 0},
    params={
        "environment": Param(None, type=["null", "string"], description="default: Variable taglake_environment"),
        "target": Param(None, type=["null", "string"], description="default: Variable taglake_target"),
        "as_of": Param(None, type=["null", "string"], format="date", description="default: the run's logical date"),
        "allow_stale": Param(False, type="boolean", description="go on past stale sources (replays and backfills)"),
    },
    tags=["taglake"],
) as dag:

    @task.sensor(
        task_id="wait_for_landing",
        mode="reschedule",
        poke_interval=settings.SENSOR_POKE,
        timeout=settings.SENSOR_TIMEOUT,
        execution_timeout=settings.SENSOR_TIMEOUT,
        **NETWORK_RETRY,
        **ALERT,
    )
    def wait_for_landing(**context: object) -> bool:
        """The as-of date's partition of every daily feed holds a file (the lake's folder or s3:// prefix)."""
        run = runtime.run_settings(context)
        missing = runtime.landing_present(run.lake, date.fromisoformat(run.as_of))
        if missing:
            print(f"not landed yet for {run.as_of}: {', '.join(missing)}")
        return not missing

    @task(task_id="update_catalog", execution_timeout=settings.STEP_TIMEOUT, **NETWORK_RETRY, **ALERT)
    def update_catalog(**context: object) -> str:
        """Athena: create or update the raw Glue tables (partition projection: a new day needs no partition
        call). DuckDB (local): nothing to do, the raw zone is read as files."""
        run = runtime.run_settings(context)
        if run.target.startswith("local"):
            return "local DuckDB target: no catalog, nothing to update"
        if not run.raw_bucket:
            raise ValueError("no raw bucket: set the Variable taglake_raw_bucket (or TAGLAKE_RAW_BUCKET)")
        runtime.run(commands.update_catalog(run.paths.taglake, run.raw_bucket), run)
        return "catalog updated"

    @task(task_id="check_key", execution_timeout=settings.STEP_TIMEOUT, **NO_RETRY, **ALERT)
    def check_key(**context: object) -> int | str:
        """Local targets: the masking key file is there, owner-only and well formed (`taglake keys status`); a
        failure here is a key_problem alert. On Athena and Redshift the key is a restricted table that dbt's own
        key checks read in the build."""
        run = runtime.run_settings(context)
        if not run.target.startswith("local"):
            return f"{run.target}: the key is the restricted table; dbt checks it in the build"
        return runtime.run(commands.check_key(run.paths.taglake), run)

    @task(task_id="source_freshness", execution_timeout=settings.STEP_TIMEOUT, **NETWORK_RETRY, **ALERT)
    def source_freshness(**context: object) -> int:
        """dbt source freshness (through taglake: the key check and log redaction); stale stops the run unless
        params.allow_stale."""
        run = runtime.run_settings(context)
        ok = (0, 1) if run.allow_stale else (0,)
        return runtime.run(commands.source_freshness(run.paths.taglake, run.run_id), run, ok_codes=ok)

    @task(task_id="run_window", execution_timeout=settings.STEP_TIMEOUT, **NETWORK_RETRY, **ALERT)
    def run_window(**context: object) -> str:
        """The day's window (`taglake run-window`), read before the build: each incremental model's newest landing
        in its table. The build gets it as TAGLAKE_RUN_WINDOW (runtime.dbt_env), so its data tests and privacy guard
        check the rows the day rewrote, as `taglake run-daily` does; `{}` (a first build, Athena, Redshift) checks
        every table whole."""
        return runtime.run_window(runtime.run_settings(context))

    dbt_build = DbtTaskGroup(
        group_id="dbt_build",
        project_config=ProjectConfig(
            dbt_project_path=PATHS.project, manifest_path=PATHS.manifest, project_name="taglake"
        ),
        profile_config=ProfileConfig(
            profile_name="taglake", target_name=PATHS.target, profiles_yml_filepath=PATHS.project / "profiles.yml"
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=PATHS.dbt,
            setup_operator_args={**NO_RETRY, **ALERT, "execution_timeout": settings.DBT_BUILD_TIMEOUT},
        ),
        render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH),
        operator_args={
            **NO_RETRY,
            "install_deps": False,
            "vars": commands.dbt_vars("{{ run_id }}"),
            "env": runtime.dbt_env(PATHS),
            "append_env": True,
            "execution_timeout": settings.DBT_BUILD_TIMEOUT,
            "deferrable": False,
            "poke_interval": 5,
        },
    )

    # The watching tasks start once the one `dbt build` has finished (they then read each node's status at once):
    # a watcher never waits on a producer that will not run (e.g. after stale sources), `airflow dags test` runs
    # them in order, and a failed build leaves them upstream_failed rather than re-running dbt per node.
    producer = dag.get_task("dbt_build.dbt_producer_watcher")
    for watcher in dbt_build.get_roots():
        if watcher.task_id != producer.task_id:
            producer >> watcher

    @task(task_id="leak_scan", execution_timeout=settings.STEP_TIMEOUT, **NO_RETRY, **ALERT)
    def leak_scan(**context: object) -> int:
        """taglake scan-pii of the build: locally the DuckDB build, dbt's target/ and logs/; on Athena and Redshift the
        tables the build wrote there, in the engine (docs/privacy.md, section 11). Any clear value or key material
        fails the run."""
        run = runtime.run_settings(context)
        return runtime.run(commands.leak_scan(run.paths.taglake, run.target), run)

    @task(task_id="refresh_tag_cache", execution_timeout=settings.STEP_TIMEOUT, **NETWORK_RETRY, **ALERT)
    def refresh_tag_cache(**context: object) -> int:
        """The tag retrieval API's DynamoDB cache from the new marts (taglake serve refresh-cache), once the leak
        scan has passed: on Athena into the environment's table; locally a dry run into moto (docs/retrieval.md)."""
        run = runtime.run_settings(context)
        table = runtime.variable("taglake_tag_cache_table", "")
        argv = commands.refresh_tag_cache(run.paths.taglake, run.target, run.environment, table)
        if argv is None:
            print(f"tag cache not refreshed on {run.target}: refresh-cache reads Athena or a local build only")
            return 0
        if run.target.startswith("local"):
            print("local target: the API serves the build itself; a dry run into moto checks the served relations")
        return runtime.run(argv, run)

    @task(task_id="quality_record", execution_timeout=settings.STEP_TIMEOUT, **NETWORK_RETRY, **ALERT)
    def quality_record(**context: object) -> int:
        run = runtime.run_settings(context)
        return runtime.run(commands.quality_record(run.paths.taglake, run.run_id, run.as_of), run)

    @task(task_id="metrics", execution_timeout=settings.STEP_TIMEOUT, **NETWORK_RETRY, **ALERT)
    def metrics(**context: object) -> int:
        run = runtime.run_settings(context)
        return runtime.run(commands.metrics_put(run.paths.taglake, run.run_id, run.as_of), run)

    @task(task_id="lineage", execution_timeout=settings.STEP_TIMEOUT, **NETWORK_RETRY, **ALERT)
    def lineage(**context: object) -> int:
        run = runtime.run_settings(context)
        return runtime.run(commands.lineage_emit(run.paths.taglake, run.run_id), run)

    @task(task_id="alerts_publish", execution_timeout=settings.STEP_TIMEOUT, **NETWORK_RETRY)
    def alerts_publish(**context: object) -> int:
        """The end of a run: warned checks that ask for an alert (`meta: {alert: …}` at warn severity)."""
        run = runtime.run_settings(context)
        argv = commands.alerts_publish(
            run.paths.taglake,
            run.run_id,
            run.as_of,
            run.environment,
            run.target,
            run.paths.target_path,
            allow_stale=run.allow_stale,
        )
        return runtime.run(argv, run)

    (
        wait_for_landing()
        >> update_catalog()
        >> check_key()
        >> source_freshness()
        >> run_window()
        >> dbt_build
        >> leak_scan()
        >> refresh_tag_cache()
        >> quality_record()
        >> metrics()
        >> lineage()
        >> alerts_publish()
    )
