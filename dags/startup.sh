#!/bin/sh
# MWAA startup script (s3://<mwaa bucket>/startup.sh): runs on every scheduler, worker and DAG processor before
# Airflow starts. It makes the dbt venv (dbt + taglake, pinned by the bundle's requirements.lock) that the
# taglake_daily DAG runs dbt and taglake from, and exports where things are. Airflow's own packages come from
# dags/requirements.txt; dbt's pins conflict with Airflow's, so they live apart.
#
# The bundle (dags/taglake_project/, made by `make mwaa-bundle`): the git-tracked files of the dbt project and
# taglake, plus target/manifest.json from `dbt parse` for the production target (cosmos renders the task group from
# it; nothing runs `dbt parse` when the DAG is parsed).
set -eu
AIRFLOW_HOME=${AIRFLOW_HOME:-/usr/local/airflow}
PROJECT=${TAGLAKE_PROJECT_DIR:-$AIRFLOW_HOME/dags/taglake_project}
VENV=${TAGLAKE_DBT_VENV:-$AIRFLOW_HOME/taglake_dbt_venv}
PYTHON=${TAGLAKE_DBT_PYTHON:-python3}

stamp="$VENV/.bundle-$(sha256sum "$PROJECT/requirements.lock" "$PROJECT/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet -r "$PROJECT/requirements.lock"
    "$VENV/bin/python" -m pip install --quiet --no-deps "$PROJECT"
    touch "$stamp"
fi

export TAGLAKE_PROJECT_DIR="$PROJECT"
export TAGLAKE_DBT_VENV="$VENV"
export TAGLAKE_MANIFEST="$PROJECT/target/manifest.json"
export TAGLAKE_STATE_DIR=${TAGLAKE_STATE_DIR:-/tmp/taglake_state}
export DBT_PROFILES_DIR="$PROJECT"
# TAGLAKE_TARGET (athena or redshift), TAGLAKE_ENVIRONMENT and the target's TAGLAKE_* settings
# (docs/deployment.md) come from the MWAA environment's configuration, never from this file.
