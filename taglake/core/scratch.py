"""Throwaway copies of the dbt project, for the builds and compiles that need what production must never have.

Production code holds no switch that turns masking, the privacy guard or dbt's own incremental logic off (no var,
no environment variable, no target setting). The masking benchmark's identity build and the offline compile's
fixed answer to `is_incremental()` are made instead by *adding files* to a copy of the project in a folder of the
caller's, which the caller deletes: the checkout itself never holds them, so a `dbt build` of the checkout, on any
target, always masks and always guards.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from taglake.core.project import Project

PROJECT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "selectors.yml")
PROJECT_DIRS = ("models", "macros", "seeds", "tests", "snapshots", "analyses", "docs")
# Added macros live here in a copy, so that they are easy to tell from the project's own.
SCRATCH_MACROS = Path("macros") / "scratch"


class ScratchError(RuntimeError):
    """A throwaway copy could not be made as asked."""


def copy_project_files(source_root: Path, dest_root: Path) -> None:
    """Copy the dbt project's own files (no build output, lake, keys or virtualenv) from one folder to another."""
    dest_root.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(source_root / name, dest_root / name)
    for name in PROJECT_DIRS:
        shutil.copytree(source_root / name, dest_root / name, dirs_exist_ok=True)


def scratch_project(
    project: Project,
    work: Path,
    *,
    macros: Mapping[str, str] | None = None,
    drop_macros: tuple[str, ...] = (),
) -> Project:
    """A copy of `project`'s dbt project under `work/project`, reading the same lake and key, with its database,
    target/ and logs/ under `work`.

    `macros` adds macro files (name → Jinja text) under macros/scratch/ of the copy: a dispatched macro such as
    `duckdb__keyed_hash` there takes precedence over the project's `default__` one. `drop_macros` removes those
    project macros' definitions from the copy's macros/ (so that one in `macros` can stand in for it, e.g. the daily
    window's start fixed for an offline compile, or the guard's stand-in of the masking benchmark's identity build);
    an error when one is not defined.
    """
    root = (work / "project").resolve()
    if root.exists():
        shutil.rmtree(root)
    copy_project_files(project.root, root)
    for name, text in (macros or {}).items():
        path = root / SCRATCH_MACROS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for name in drop_macros:
        _drop_macro(root / "macros", name)
    return replace(
        project,
        root=root,
        duckdb_path=(work / "taglake.duckdb").resolve(),
        target_path=(work / "target").resolve(),
        log_path=(work / "logs").resolve(),
    )


def _drop_macro(macros_dir: Path, name: str) -> None:
    """Remove the one definition of macro `name` from the .sql files under `macros_dir`."""
    pattern = re.compile(r"\{%-?\s*macro\s+" + re.escape(name) + r"\s*\(.*?\{%-?\s*endmacro\s*-?%\}", re.DOTALL)
    for path in sorted(macros_dir.rglob("*.sql")):
        text = path.read_text(encoding="utf-8")
        new, count = pattern.subn("", text)
        if count:
            path.write_text(new, encoding="utf-8")
            return
    raise ScratchError(f"the project defines no macro {name!r} to drop in the throwaway copy")
