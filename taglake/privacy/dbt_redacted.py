"""`taglake-dbt ARGS`: dbt itself, its output redacted as every dbt process taglake starts.

For a caller that must start dbt as an executable of its own: the MWAA DAG's cosmos task group runs
`<dbt venv>/bin/taglake-dbt build …`, so the build's output in the Airflow task log is redacted of personal-data
shapes like `taglake build`'s (an engine error can quote a value). dbt's JSON log lines (cosmos's watcher reads
them) are redacted value by value and keep dbt's own identifiers (taglake.privacy.redacted_output.redact_line), and
what the run adds to dbt's log file (`$DBT_LOG_PATH/dbt.log`, else `logs/dbt.log`) is redacted when it ends.
Nothing else changes: the arguments, the working directory, the environment and the exit code are dbt's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from taglake.privacy.dbt_runner import launch
from taglake.privacy.redacted_output import log_size, redact_log_tail


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dict(os.environ)
    log_file = Path(env.get("DBT_LOG_PATH") or Path.cwd() / "logs") / "dbt.log"
    start = log_size(log_file)
    try:
        code, _ = launch(args, cwd=Path.cwd(), env=env, echo=sys.stdout)
    finally:
        redact_log_tail(log_file, start)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
