"""`taglake-dbt ARGS`: dbt itself, its output redacted line by line as every dbt process taglake starts.

For a caller that must start dbt as an executable of its own: the MWAA DAG's cosmos task group runs
`<dbt venv>/bin/taglake-dbt build …`, so the build's console output in the Airflow task log is redacted of
personal-data shapes like `taglake build`'s (an engine error can quote a value). Nothing else changes: the
arguments, the working directory, the environment and the exit code are dbt's.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from taglake.privacy.dbt_runner import launch


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    code, _ = launch(args, cwd=Path.cwd(), env=dict(os.environ), echo=sys.stdout)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
