"""The DAG's leak scan: its command line per target (dags/taglake_ops/commands.py) is one the taglake CLI accepts,
and on Athena and Redshift it scans the build's tables there instead of skipping them."""

from __future__ import annotations

from pathlib import Path

import pytest

from taglake import cli

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.redteam, pytest.mark.leak_scan_engines]


def test_the_leak_scan_runs_on_every_target_in_the_engine_of_that_target(commands) -> None:  # type: ignore[no-untyped-def]
    taglake = Path("/venv/bin/taglake")
    assert commands.leak_scan(taglake, "local") == [str(taglake), "scan-pii"]
    parser = cli.build_parser()
    for target in ("athena", "redshift", "athena_system", "redshift_system"):
        argv = commands.leak_scan(taglake, target)
        assert argv == [str(taglake), "scan-pii", "--target", target]
        ns = parser.parse_args(argv[1:])  # a renamed flag fails here, not in the night's run
        assert ns.func.__name__ == "cmd_scan" and ns.target_of(ns) == target


def test_the_dag_no_longer_skips_the_scan_on_aws_targets() -> None:
    source = (ROOT / "dags" / "taglake_daily.py").read_text(encoding="utf-8")
    assert "leak scan not run" not in source
    assert "commands.leak_scan(run.paths.taglake, run.target)" in source
