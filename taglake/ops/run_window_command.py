"""`taglake run-window`: the daily window a scheduler passes to its own `dbt build` (the DAG's cosmos build).

`taglake run-daily` reads the window and sets it for its build itself (taglake.ops.run_window). A scheduler that
runs dbt on its own (MWAA's DAG, through cosmos) asks for the same value before its build and sets it as the
build's TAGLAKE_RUN_WINDOW: the JSON this command prints.
"""

from __future__ import annotations

import argparse

from taglake.core import targets
from taglake.core.cli_args import Subparsers
from taglake.core.project import RUN_WINDOW_ENV, Project


def register(sub: Subparsers) -> None:
    p = sub.add_parser(
        "run-window",
        help="print the daily window of each incremental model (TAGLAKE_RUN_WINDOW) for a scheduler's dbt build",
        description=f"Print, as one line of JSON ({{model: 'YYYY-MM-DD'}}), the newest value of its window column "
        f"each incremental model's table holds now: what `taglake run-daily` passes to its dbt build as "
        f"{RUN_WINDOW_ENV}, for a scheduler that runs `dbt build` itself (the MWAA DAG's run_window task). Each "
        "model's data tests and privacy guard then check the rows landed from that date minus the lookback on. "
        "Prints {} (every table checked whole, as in a full build) on a target other than local (the windows are "
        "read from the local DuckDB file), before the first build, or when dbt's manifest or the database cannot "
        "be read. See docs/daily-runs.md.",
    )
    p.add_argument("--target", default=None, help="dbt target (default: TAGLAKE_TARGET or local)")
    p.set_defaults(func=cmd_run_window, target_of=lambda ns: targets.resolve(ns.target))


def cmd_run_window(ns: argparse.Namespace, project: Project, target: str | None) -> int:
    from taglake.ops.run_window import newest_landings, window_json

    print(window_json(newest_landings(project, target)))
    return 0
