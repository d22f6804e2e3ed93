"""Where things are, read when the DAG file is parsed (environment only: no Variable, no DB, no network at parse
time) or when a task runs (params, then Airflow Variables, then the environment).

Parse time (set by dags/startup.sh on MWAA, by the test's environment locally):
  TAGLAKE_DBT_VENV      the dbt venv: its bin/taglake-dbt and bin/taglake (made by startup.sh from the bundle)
  TAGLAKE_PROJECT_DIR   the dbt project (the bundle: git-tracked files and target/manifest.json)
  TAGLAKE_MANIFEST      the manifest cosmos renders the task group from (default: <project>/target/manifest.json)
  TAGLAKE_TARGET        the dbt target of this deployment (local, athena, redshift)
  TAGLAKE_STATE_DIR     where dbt writes target/ and logs/ for the runs (default: <project>/state)

Run time: the params environment, target, as_of and allow_stale; unset params fall back to the Variables
taglake_environment, taglake_target, taglake_lake (the raw zone: a folder or s3://bucket/prefix),
taglake_raw_bucket (for the Glue catalog), then to TAGLAKE_* environment variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

# Timeouts and retries: the numbers docs/operations.md ("Deploying the DAG to MWAA") states.
SENSOR_TIMEOUT = timedelta(hours=6)
SENSOR_POKE = timedelta(minutes=5)
RETRY_DELAY = timedelta(minutes=2)
MAX_RETRY_DELAY = timedelta(minutes=30)
NETWORK_RETRIES = 3
DBT_BUILD_TIMEOUT = timedelta(hours=2)
STEP_TIMEOUT = timedelta(minutes=30)
DAGRUN_TIMEOUT = timedelta(hours=8)
# The daily feeds that must have landed for the as-of date (raw/<source>/<table>/year=/month=/day=).
DAILY_FEEDS = ("cards/transactions", "digital/app_events")


@dataclass(frozen=True)
class Paths:
    venv: Path
    project: Path
    manifest: Path
    target: str
    state: Path

    @property
    def dbt(self) -> Path:
        """dbt as cosmos starts it: `taglake-dbt`, dbt with its output redacted line by line (docs/privacy.md)."""
        return self.venv / "bin" / "taglake-dbt"

    @property
    def taglake(self) -> Path:
        return self.venv / "bin" / "taglake"

    @property
    def target_path(self) -> Path:
        return self.state / "target"

    @property
    def log_path(self) -> Path:
        return self.state / "logs"


def paths(environ: dict[str, str] | None = None) -> Paths:
    env = os.environ if environ is None else environ
    home = Path(env.get("AIRFLOW_HOME", "/usr/local/airflow"))
    project = Path(env.get("TAGLAKE_PROJECT_DIR", str(home / "dags" / "taglake_project")))
    return Paths(
        venv=Path(env.get("TAGLAKE_DBT_VENV", str(home / "taglake_dbt_venv"))),
        project=project,
        manifest=Path(env.get("TAGLAKE_MANIFEST", str(project / "target" / "manifest.json"))),
        target=env.get("TAGLAKE_TARGET", "local"),
        state=Path(env.get("TAGLAKE_STATE_DIR", str(project / "state"))),
    )
