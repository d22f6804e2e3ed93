"""Where the dbt project and its local build live, and the environment dbt runs with."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from taglake.core.checkout import find_project_dir
from taglake.core.targets import DEFAULT_TARGET, duckdb_file

# The local masking key, outside git (.gitignore has /.secrets/); see taglake.privacy.keys.
KEY_FILE = Path(".secrets") / "masking_keys.csv"
# A daily run's landing windows, JSON {incremental model: newest landing date before the build}: set by the daily
# runner only (taglake.ops.run_window), read by macros/incremental/run_window.sql while nodes execute.
RUN_WINDOW_ENV = "TAGLAKE_RUN_WINDOW"
# A daily run's changed partitions, JSON {incremental model: earliest landing date whose raw files changed since the
# last run that passed, or null}: set by the daily runner only (taglake.ops.run_ledger), read as RUN_WINDOW_ENV is.
RUN_CHANGES_ENV = "TAGLAKE_RUN_CHANGES"


def colour_env(on_terminal: bool | None = None) -> dict[str, str]:
    """dbt's colour settings: colour codes on the console only when taglake's stdout is a terminal
    (`on_terminal`, default `sys.stdout.isatty()`), and never in logs/dbt.log."""
    if on_terminal is None:
        on_terminal = sys.stdout.isatty()
    return {"DBT_USE_COLORS": "true" if on_terminal else "false", "DBT_USE_COLORS_FILE": "false"}


@dataclass(frozen=True)
class Project:
    """A taglake checkout: the dbt project, the lake it reads locally and the DuckDB file it builds."""

    root: Path
    lake_dir: Path
    duckdb_path: Path
    target_path: Path
    log_path: Path
    key_file: Path

    @classmethod
    def locate(
        cls,
        *,
        lake_dir: Path | None = None,
        duckdb_path: Path | None = None,
        artifacts_dir: Path | None = None,
        key_file: Path | None = None,
    ) -> Project:
        """The checkout found from the working directory. Each path comes from the argument, else its environment
        variable, else its default in the checkout; `artifacts_dir` puts dbt's target/ and logs/ under it."""
        root = find_project_dir()
        lake = lake_dir or Path(os.environ.get("TAGLAKE_LAKE_DIR", root / "lake"))
        db = duckdb_path or duckdb_file(DEFAULT_TARGET, root)
        if artifacts_dir:
            target, logs = artifacts_dir / "target", artifacts_dir / "logs"
        else:
            target = Path(os.environ.get("DBT_TARGET_PATH", root / "target"))
            logs = Path(os.environ.get("DBT_LOG_PATH", root / "logs"))
        return cls(
            root=root,
            lake_dir=(root / lake).resolve(),
            duckdb_path=(root / db).resolve(),
            target_path=(root / target).resolve(),
            log_path=(root / logs).resolve(),
            key_file=(root / (key_file or os.environ.get("TAGLAKE_KEY_FILE", KEY_FILE))).resolve(),
        )

    def dbt_env(self, target: str | None = None) -> dict[str, str]:
        """The environment dbt runs with: this repo's profiles.yml, no usage tracking (no network here), the lake
        and database of this checkout, colour only on a terminal (colour_env), and the target if one is named.
        Never a daily run's window (RUN_WINDOW_ENV, RUN_CHANGES_ENV) from the caller's environment: only the daily
        runner sets it."""
        env = dict(os.environ)
        env.pop(RUN_WINDOW_ENV, None)
        env.pop(RUN_CHANGES_ENV, None)
        env.update(
            {
                "DBT_PROFILES_DIR": str(self.root),
                "DBT_PROJECT_DIR": str(self.root),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "DO_NOT_TRACK": "1",
                "TAGLAKE_LAKE_DIR": str(self.lake_dir),
                "TAGLAKE_DUCKDB_PATH": str(self.duckdb_path),
                "DBT_TARGET_PATH": str(self.target_path),
                "DBT_LOG_PATH": str(self.log_path),
                "TAGLAKE_KEY_FILE": str(self.key_file),
                **colour_env(),
            }
        )
        if target:
            env["TAGLAKE_TARGET"] = target
        return env
