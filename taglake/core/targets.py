"""The dbt targets, the engine each runs on and the DuckDB file a local one builds: read from profiles.yml.

profiles.yml is the one declaration of the targets. Every output's `type` is its engine (duckdb, athena,
redshift); a DuckDB output's `path` names its environment variable and default
(`{{ env_var('TAGLAKE_DUCKDB_PATH', 'build/taglake.duckdb') }}`), and its `settings` are DuckDB's, each a literal or
named the same way (`memory_limit: {{ env_var('TAGLAKE_DUCKDB_MEMORY_LIMIT', '4GB') }}`). Python reads them from here
and never keeps a copy.
Read on first use and cached, never at import.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from taglake.core.checkout import find_project_dir
from taglake.core.sources import load_yaml

PROFILE = "taglake"
DEFAULT_TARGET = "local"
ENGINES = ("duckdb", "athena", "redshift")
AWS_ENGINES = ("athena", "redshift")
SYSTEM_SUFFIX = "_system"
# `{{ env_var('NAME', 'default') }}` in a DuckDB output's path (the system output wraps it in `identity and …`) or
# one of its settings.
_PATH_VAR = re.compile(r"env_var\(\s*'(?P<name>[A-Z0-9_]+)'\s*,\s*'(?P<default>[^']+)'\s*\)\s*}}")
# `{{ env_var('NAME') }}` with no default: the output cannot be rendered without NAME in the environment.
_REQUIRED_VAR = re.compile(r"env_var\(\s*'(?P<name>[A-Za-z0-9_]+)'\s*\)")


class UnknownTarget(ValueError):
    """A target profiles.yml does not declare."""


@dataclass(frozen=True)
class Target:
    name: str
    engine: str  # duckdb | athena | redshift (the output's adapter type)
    path_var: str | None = None  # DuckDB only: the environment variable that moves the database file …
    default_path: str | None = None  # … and its default, relative to the project folder
    settings: tuple[tuple[str, str], ...] = ()  # DuckDB only: its settings as written (name, value)
    required_env: tuple[str, ...] = ()  # the environment variables its settings read with no default

    def missing_env(self, env: Mapping[str, str] | None = None) -> list[str]:
        """The required environment variables not set (in `env`, else this process's environment)."""
        where = os.environ if env is None else env
        return [name for name in self.required_env if not where.get(name)]

    @property
    def is_system(self) -> bool:
        return is_system_target(self.name)


def is_system_target(target: str | None) -> bool:
    """A system account's target: profiles.yml names each `<engine target>_system` (docs/privacy.md)."""
    return bool(target) and str(target).endswith(SYSTEM_SUFFIX)


@cache
def _targets(project_dir: Path) -> dict[str, Target]:
    doc = load_yaml((project_dir / "profiles.yml").read_text(encoding="utf-8"))
    found: dict[str, Target] = {}
    for name, output in doc[PROFILE]["outputs"].items():
        engine = str(output["type"])
        if engine not in ENGINES:
            raise ValueError(f"profiles.yml: output {name!r} has type {engine!r}; taglake knows {', '.join(ENGINES)}")
        path_var = default_path = None
        settings: tuple[tuple[str, str], ...] = ()
        if engine == "duckdb":
            match = _PATH_VAR.search(str(output.get("path", "")))
            if not match:
                raise ValueError(f"profiles.yml: output {name!r}: path must be {{{{ env_var('NAME', 'default') }}}}")
            path_var, default_path = match["name"], match["default"]
            settings = tuple((str(k), str(v)) for k, v in (output.get("settings") or {}).items())
        required = tuple(dict.fromkeys(m["name"] for v in output.values() for m in _REQUIRED_VAR.finditer(str(v))))
        found[name] = Target(name, engine, path_var, default_path, settings, required)
    return found


def targets(project_dir: Path | None = None) -> dict[str, Target]:
    """Every output profiles.yml declares, by name."""
    return _targets((project_dir or find_project_dir()).resolve())


def resolve(target: str | None) -> str:
    """The target dbt will use: the one named, else TAGLAKE_TARGET, else profiles.yml's default (`local`)."""
    return target or os.environ.get("TAGLAKE_TARGET") or DEFAULT_TARGET


def target_of(name: str | None, project_dir: Path | None = None) -> Target:
    resolved = resolve(name)
    declared = targets(project_dir)
    if resolved not in declared:
        raise UnknownTarget(f"unknown target {resolved!r}: profiles.yml declares {', '.join(declared)}")
    return declared[resolved]


def engine_of(target: str | None, project_dir: Path | None = None) -> str:
    """duckdb | athena | redshift: the type of the target's output in profiles.yml (UnknownTarget if none)."""
    return target_of(target, project_dir).engine


def is_local(target: str | None, project_dir: Path | None = None) -> bool:
    """True for a DuckDB target (an undeclared name is not local: the CLI refuses it before anything runs)."""
    declared = targets(project_dir).get(resolve(target))
    return declared is not None and declared.engine == "duckdb"


def aws_targets(project_dir: Path | None = None) -> dict[str, str]:
    """Each AWS target and its engine."""
    return {t.name: t.engine for t in targets(project_dir).values() if t.engine in AWS_ENGINES}


def duckdb_file(target: str | None, root: Path) -> Path:
    """The DuckDB file a local target builds: its path variable if set, else its default, under `root`."""
    declared = target_of(target, root)
    if declared.path_var is None or declared.default_path is None:
        raise UnknownTarget(f"target {declared.name!r} is not a DuckDB target")
    return (root / os.environ.get(declared.path_var, declared.default_path)).resolve()


def duckdb_settings(target: str | None, root: Path) -> dict[str, str]:
    """DuckDB's settings for a local target's database, as its dbt builds use them: each literal as written, each
    `{{ env_var('NAME', 'default') }}` its variable if set, else its default (empty for a target that is not DuckDB).
    For a process that opens the build itself, or builds the same tables without dbt (taglake.bench)."""
    declared = target_of(target, root)
    out: dict[str, str] = {}
    for name, value in declared.settings:
        if "{{" in value:
            var = _PATH_VAR.search(value)
            if not var:
                raise ValueError(
                    f"profiles.yml: output {declared.name!r}: setting {name!r} must be a literal or "
                    "{{ env_var('NAME', 'default') }}"
                )
            value = os.environ.get(var["name"], var["default"])
        out[name] = value
    return out


def duckdb_memory_limit(target: str | None, root: Path) -> str | None:
    """DuckDB's memory_limit for a local target's database, as its dbt builds use it (None when the output sets
    none): for a process that opens the build itself (the Athena estimate of `taglake bench`), so that reading a
    large build does not take DuckDB's default of 80 % of the machine's memory."""
    return duckdb_settings(target, root).get("memory_limit")
