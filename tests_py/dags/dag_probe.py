"""Run by the Airflow venv's Python (not by pytest): parse the DAG folder given as argv[1] twice, timed, and print
one JSON line: import errors, DAG ids, parse seconds, and each task of taglake_daily with its upstream tasks,
retries, back-off, timeout, failure callback, sensor mode, the dbt executable it starts and the window its dbt
build gets (TAGLAKE_RUN_WINDOW, a template)."""

from __future__ import annotations

import json
import sys
import time

from airflow.dag_processing.dagbag import DagBag


def describe(task: object) -> dict[str, object]:
    timeout = getattr(task, "execution_timeout", None)
    return {
        "up": sorted(getattr(task, "upstream_task_ids", [])),
        "retries": getattr(task, "retries", None),
        "backoff": bool(getattr(task, "retry_exponential_backoff", False)),
        "timeout": timeout.total_seconds() if timeout else None,
        "callback": bool(getattr(task, "on_failure_callback", None)),
        "mode": getattr(task, "mode", None),
        "dbt": str(getattr(task, "dbt_executable_path", "") or "") or None,
        "window": (getattr(task, "env", None) or {}).get("TAGLAKE_RUN_WINDOW"),
    }


def main(folder: str) -> None:
    start = time.monotonic()
    bag = DagBag(dag_folder=folder)
    first = time.monotonic() - start
    start = time.monotonic()
    DagBag(dag_folder=folder)
    again = time.monotonic() - start
    dag = bag.dags.get("taglake_daily")
    found = {
        "errors": {name: text.strip().splitlines()[-1] for name, text in bag.import_errors.items()},
        "dags": sorted(bag.dags),
        "seconds": first,
        "again": again,
    }
    if dag is not None:
        found.update(
            {
                "tasks": {task.task_id: describe(task) for task in dag.tasks},
                "dagrun_timeout": dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
                "max_active_runs": dag.max_active_runs,
                "params": sorted(dag.params.keys()),
            }
        )
    print(json.dumps(found))


if __name__ == "__main__":
    main(sys.argv[1])
