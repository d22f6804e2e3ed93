"""The MWAA DAG taglake_daily, run by Airflow 3.3.1 + cosmos 1.15.1 from their own venv (`make venv-airflow`) as
subprocesses, with AIRFLOW_HOME in a temporary folder (SQLite), over a small generated lake (marker `airflow`).

dbt and taglake run from this checkout's .venv (the DAG's TAGLAKE_DBT_VENV), as on MWAA from the startup script's
venv. Alerts go to an SNS topic on a moto_server this module starts on 127.0.0.1, read back from a subscribed queue.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from project_copy import copy_project
from sns_queue import SnsQueue, sns_queue
from windowed_models import windowed_models

from taglake.core.project import Project
from taglake.lake.generate import generate_lake
from taglake.privacy.keys import init_key

pytestmark = pytest.mark.airflow

ROOT = Project.locate().root
DAG_ID = "taglake_daily"
# MWAA's DAG file processor gives a file 30 s by default (dag_file_processor_timeout is 50 s; the import timeout
# core.dagbag_import_timeout is 30 s): the DAG must import well inside it.
MWAA_PARSE_LIMIT_S = 30.0
LAKE = {"customers": 150, "days": 6, "seed": 11, "defect_rate": 0.02}
LAST_DAY = "2026-10-31"  # the generator's default end date: the day every feed has landed
DAY_BEFORE = "2026-10-30"


def airflow_venv() -> Path:
    """The Airflow venv, made (once, cached) by the make target a fresh machine runs too."""
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "venv-airflow"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass
class Airflow:
    venv: Path
    home: Path
    env: dict[str, str]

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "airflow"), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            cwd=self.home,
        )

    def python(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "python"), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
            cwd=self.home,
        )


def parse_manifest(project_root: Path, target_path: Path, env: dict[str, str]) -> Path:
    """`dbt parse` of a project (what `make mwaa-bundle` ships): the manifest cosmos renders from."""
    dbt = Path(sys.executable).with_name("dbt")
    run_env = {**env, "DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(target_path / "logs")}
    result = subprocess.run(
        [str(dbt), "--quiet", "parse"], cwd=project_root, env=run_env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return target_path / "manifest.json"


def deployment_env(work: Path, project_root: Path, manifest: Path, lake: Path, key_file: Path) -> dict[str, str]:
    """What startup.sh and the MWAA configuration give the DAG, for a local DuckDB deployment under `work`."""
    return {
        "TAGLAKE_DBT_VENV": str(Path(sys.executable).parent.parent),
        "TAGLAKE_PROJECT_DIR": str(project_root),
        "TAGLAKE_MANIFEST": str(manifest),
        "TAGLAKE_TARGET": "local",
        "TAGLAKE_STATE_DIR": str(work / "state"),
        "TAGLAKE_LAKE_DIR": str(lake),
        "TAGLAKE_DUCKDB_PATH": str(work / "build" / "taglake.duckdb"),
        "TAGLAKE_KEY_FILE": str(key_file),
        "TAGLAKE_ENVIRONMENT": "test",
        "DBT_PROFILES_DIR": str(project_root),
    }


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Airflow:
    """An Airflow home with a migrated SQLite database, reading the DAGs of this checkout."""
    venv = airflow_venv()
    home = tmp_path_factory.mktemp("airflow_home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TAGLAKE_", "DBT_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "false",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__COSMOS__ENABLE_CACHE": "false",
            "AIRFLOW__COSMOS__PROPAGATE_LOGS": "false",
            "DO_NOT_TRACK": "1",
            "SCARF_ANALYTICS": "false",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": str(MWAA_PARSE_LIMIT_S),
        }
    )
    made = Airflow(venv, home, env)
    migrated = made.run("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return made


@pytest.fixture(scope="module")
def lake_and_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("dag_lake")
    generate_lake(work / "lake", progress=False, **LAKE)
    key = work / "secrets" / "keys.csv"
    init_key(key)
    return work / "lake", key


@pytest.fixture(scope="module")
def checkout_manifest(tmp_path_factory: pytest.TempPathFactory, lake_and_key: tuple[Path, Path]) -> Path:
    work = tmp_path_factory.mktemp("dag_manifest")
    env = {**os.environ, "TAGLAKE_LAKE_DIR": str(lake_and_key[0]), "TAGLAKE_KEY_FILE": str(lake_and_key[1])}
    return parse_manifest(ROOT, work / "target", env)


@pytest.fixture(scope="module")
def alerts() -> Iterator[SnsQueue]:
    with sns_queue() as queue:
        yield queue


def run_of(airflow: Airflow, day: str) -> tuple[str, str, dict[str, str]]:
    """The run of `day` (its logical date) in Airflow's SQLite database: run id, state, and each task's state."""
    with contextlib.closing(sqlite3.connect(airflow.home / "airflow.db")) as db:
        runs = db.execute(
            "select run_id, state from dag_run where dag_id = ? and logical_date like ? order by id desc",
            (DAG_ID, f"{day}%"),
        ).fetchall()
        assert runs, f"no run of {day}"
        run_id, state = runs[0]
        tasks = db.execute("select task_id, state from task_instance where run_id = ?", (run_id,)).fetchall()
    return run_id, state, {task: str(task_state) for task, task_state in tasks}


def stored_window(airflow: Airflow, run_id: str) -> tuple[object, object]:
    """The run_window task's value (its XCom) and the TAGLAKE_RUN_WINDOW the build's producer task was rendered with,
    as Airflow stored them for the run."""
    with contextlib.closing(sqlite3.connect(airflow.home / "airflow.db")) as db:
        pushed = db.execute(
            "select value from xcom where run_id = ? and task_id = 'run_window' and key = 'return_value'", (run_id,)
        ).fetchone()
        rendered = db.execute(
            "select rendered_fields from rendered_task_instance_fields where run_id = ? and task_id = ?",
            (run_id, "dbt_build.dbt_producer_watcher"),
        ).fetchone()
    value = json.loads(pushed[0]) if pushed else None
    env = json.loads(rendered[0]).get("env", {}) if rendered else {}
    return value, env.get("TAGLAKE_RUN_WINDOW")


PROBE = Path(__file__).with_name("dag_probe.py")


@pytest.fixture(scope="module")
def probed(airflow: Airflow, checkout_manifest: Path, lake_and_key: tuple[Path, Path], tmp_path_factory) -> dict:
    """The DAG folder as Airflow's DagBag sees it (tests_py/dags/dag_probe.py, run by the Airflow venv)."""
    env = deployment_env(tmp_path_factory.mktemp("probe"), ROOT, checkout_manifest, *lake_and_key)
    result = airflow.python(str(PROBE), str(ROOT / "dags"), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_dag_imports_without_errors_and_parses_within_mwaas_limit(probed: dict) -> None:
    assert probed["errors"] == {} and probed["dags"] == [DAG_ID]
    # the first parse pays Airflow's and cosmos's imports; MWAA's processor has them loaded for every later parse
    assert probed["seconds"] < MWAA_PARSE_LIMIT_S and probed["again"] < 5.0, (probed["seconds"], probed["again"])


def test_the_dag_has_the_documented_steps_retries_and_timeouts(probed: dict) -> None:
    tasks = probed["tasks"]
    chain = ["wait_for_landing", "update_catalog", "check_key", "source_freshness", "run_window"]
    after = ["leak_scan", "refresh_tag_cache", "quality_record", "metrics", "lineage", "alerts_publish"]
    for earlier, later in [*itertools.pairwise(chain), *itertools.pairwise(after)]:
        assert tasks[later]["up"] == [earlier], later
    dbt_tasks = [name for name in tasks if name.startswith("dbt_build.")]
    producer = "dbt_build.dbt_producer_watcher"
    assert producer in dbt_tasks and len(dbt_tasks) > 40  # one watching task per model, seed, snapshot, test set
    assert tasks[producer]["up"] == ["run_window"]
    # the build's tests and guard check the day's window: the run_window task's value, rendered when the build runs
    assert tasks[producer]["window"] == "{{ ti.xcom_pull(task_ids='run_window') or '{}' }}"
    # cosmos starts dbt as taglake-dbt: its output in the task log redacted, dbt's node ids spared for the watchers
    assert tasks[producer]["dbt"].endswith("/bin/taglake-dbt")
    watchers = [t for t in dbt_tasks if t != producer]
    assert all(tasks[t]["up"] for t in watchers)  # every watcher waits for the build (directly or through another)
    assert all(tasks[t]["retries"] == 0 for t in dbt_tasks)  # a failed data test is not retried
    assert tasks[producer]["callback"] and not any(tasks[t]["callback"] for t in watchers)
    assert all(t.startswith("dbt_build.") for t in tasks["leak_scan"]["up"])
    for name in (
        "wait_for_landing", "update_catalog", "source_freshness", "run_window", "refresh_tag_cache", "quality_record",
        "metrics", "lineage",
    ):  # fmt: skip
        assert tasks[name]["retries"] == 3 and tasks[name]["backoff"], name
    assert (
        tasks["leak_scan"]["retries"] == 0
        and tasks["check_key"]["retries"] == 0
        and tasks["wait_for_landing"]["mode"] == "reschedule"
    )
    for name in (*chain, *after, producer):
        assert tasks[name]["timeout"], name
    for name in (*chain, *after[:-1]):
        assert tasks[name]["callback"], name
    assert probed["dagrun_timeout"] == 8 * 3600 and probed["max_active_runs"] == 1
    assert probed["params"] == ["allow_stale", "as_of", "environment", "target"]


# days apart from the `dags test` runs below, which share this Airflow database
BACKFILL = ("--from-date", "2026-10-26", "--to-date", "2026-10-28", "--max-active-runs", "1")


def test_a_backfill_of_a_date_range_queues_one_run_per_day_one_at_a_time(
    airflow: Airflow, checkout_manifest: Path, lake_and_key: tuple[Path, Path], tmp_path: Path
) -> None:
    """docs/operations.md's backfill: one queued run per logical date (each run's as-of date), the conf passed to
    each, and at most one running at a time (a backfill's own limit is 10 unless told: the days' builds must not
    overlap). The scheduler then runs them as it runs a scheduled day (the runs of `dags test` above)."""
    env = deployment_env(tmp_path, ROOT, checkout_manifest, *lake_and_key)
    serialized = airflow.run("dags", "reserialize", env=env)
    assert serialized.returncode == 0, serialized.stderr[-3000:]
    conf = json.dumps({"allow_stale": True})
    created = airflow.run("backfill", "create", "--dag-id", DAG_ID, *BACKFILL, "--dag-run-conf", conf, env=env)
    assert created.returncode == 0, created.stderr[-3000:]
    with contextlib.closing(sqlite3.connect(airflow.home / "airflow.db")) as db:
        runs = db.execute(
            "select substr(logical_date, 1, 10), state, conf from dag_run where dag_id = ? and run_type = 'backfill' "
            "order by logical_date",
            (DAG_ID,),
        ).fetchall()
        (limit,) = db.execute("select max_active_runs from backfill where dag_id = ?", (DAG_ID,)).fetchone()
    assert [day for day, _, _ in runs] == ["2026-10-26", "2026-10-27", "2026-10-28"]
    assert all(state == "queued" and json.loads(c) == {"allow_stale": True} for _, state, c in runs)
    assert limit == 1
    docs = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert " ".join(BACKFILL[-2:]) in docs  # the documented command says it too


@pytest.mark.dbt
def test_dags_test_runs_the_day_end_to_end_over_the_small_lake(
    airflow: Airflow, checkout_manifest: Path, lake_and_key: tuple[Path, Path], alerts: SnsQueue, tmp_path: Path
) -> None:
    env = {**deployment_env(tmp_path, ROOT, checkout_manifest, *lake_and_key), **alerts.env()}
    start = time.monotonic()
    result = airflow.run("dags", "test", DAG_ID, LAST_DAY, "-c", json.dumps({"allow_stale": True}), env=env)
    seconds = time.monotonic() - start
    run_id, state, states = run_of(airflow, LAST_DAY)
    failed = {t: s for t, s in states.items() if s != "success"}
    assert result.returncode == 0 and state == "success" and not failed, (failed, result.stdout[-4000:])
    assert (tmp_path / "build" / "taglake.duckdb").is_file()
    results = json.loads((tmp_path / "state" / "target" / "run_results.json").read_text(encoding="utf-8"))
    assert results["args"]["vars"] == {"taglake_run_id": run_id}  # every dbt run knows the Airflow run
    assert alerts.received() == []  # a green day sends nothing
    # the steps after the build did their work: the run's checks in the quality history, its lineage events
    with duckdb.connect(str(tmp_path / "build" / "taglake.duckdb"), read_only=True) as con:
        checks = con.execute(
            "select count(*) from taglake_marts.fct_quality_check_results where run_id = ?", [run_id]
        ).fetchone()
    assert checks is not None and checks[0] > 0
    events = (tmp_path / "state" / "target" / "lineage" / "openlineage.jsonl").read_text(encoding="utf-8")
    assert events.count("\n") > 0
    # the build got run_window's value as its window: none on a first build (every table checked whole) ...
    assert stored_window(airflow, run_id) == ("{}", "{}")
    # ... and once the day is built, the task reads each incremental model's newest landing for the next build
    again = airflow.run("tasks", "test", DAG_ID, "run_window", LAST_DAY, env=env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    logged = again.stdout + again.stderr
    windows = [json.loads(m) for m in re.findall(r'\{"[a-z_]+": "[0-9-]{10}"[^{}]*\}', logged)]
    windowed = windowed_models(tmp_path / "state" / "target" / "manifest.json")
    assert windows and set(windows[-1]) == windowed, logged[-3000:]
    assert max(windows[-1].values()) == LAST_DAY
    print(f"dags test: {seconds:.0f} s, {len(states)} tasks")


@pytest.mark.dbt
def test_a_failing_data_test_fails_its_task_and_sends_exactly_one_alert(
    airflow: Airflow, lake_and_key: tuple[Path, Path], alerts: SnsQueue, tmp_path: Path
) -> None:
    project = copy_project(tmp_path / "project")
    (project.root / "tests" / "assert_planted_failure_for_the_dag.sql").write_text(
        "-- planted by tests_py/dags: one row, so the test fails\n"
        "select 1 as planted from {{ ref('stg_crm__customers') }} limit 1\n",
        encoding="utf-8",
    )
    env_parse = {**os.environ, "TAGLAKE_LAKE_DIR": str(lake_and_key[0]), "TAGLAKE_KEY_FILE": str(lake_and_key[1])}
    manifest = parse_manifest(project.root, tmp_path / "parsed", env_parse)
    env = {**deployment_env(tmp_path, project.root, manifest, *lake_and_key), **alerts.env()}
    alerts.received()  # empty the queue
    result = airflow.run("dags", "test", DAG_ID, DAY_BEFORE, "-c", json.dumps({"allow_stale": True}), env=env)
    run_id, state, states = run_of(airflow, DAY_BEFORE)
    assert state == "failed", result.stdout[-3000:]
    assert states["dbt_build.dbt_producer_watcher"] == "failed"
    assert states["wait_for_landing"] == states["source_freshness"] == "success"
    assert states["leak_scan"] == "upstream_failed" and states["alerts_publish"] == "upstream_failed"
    time.sleep(1)
    messages = alerts.received()
    assert len(messages) == 1, [m.get("Subject") for m in messages]
    body = json.loads(messages[0]["Message"])
    assert body["class"] == "test_failure" and body["run_id"] == run_id and body["as_of"] == DAY_BEFORE
    assert [f["node"] for f in body["failed"]] == ["assert_planted_failure_for_the_dag"]
    assert messages[0]["MessageAttributes"]["environment"]["Value"] == "test"
