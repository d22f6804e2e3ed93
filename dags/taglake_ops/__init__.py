"""Helpers of the taglake_daily DAG: settings (where the dbt venv, project, manifest and lake are), the taglake and
dbt command lines (one place), the landing check, and the on-failure callback that sends one alert."""
