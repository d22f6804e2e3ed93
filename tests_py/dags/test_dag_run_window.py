"""The DAG's run_window task: its command line (dags/taglake_ops/commands.py) is one the taglake CLI accepts, on
every target, and the build's environment takes the task's value (the DAG run itself: test_taglake_daily_dag)."""

from __future__ import annotations

from pathlib import Path

import pytest

from taglake import cli

pytestmark = pytest.mark.airflow


def test_the_run_window_command_is_one_the_cli_accepts_on_every_target(commands) -> None:  # type: ignore[no-untyped-def]
    taglake = Path("/venv/bin/taglake")
    parser = cli.build_parser()
    for target in ("local", "athena", "redshift"):
        argv = commands.run_window(taglake, target)
        assert argv == [str(taglake), "run-window", "--target", target]
        ns = parser.parse_args(argv[1:])  # a renamed flag fails here, not in the night's run
        assert ns.func.__name__ == "cmd_run_window" and ns.target_of(ns) == target
