"""Run dbt against this checkout's project and profile, as a child process.

Every dbt process starts in one of two functions here: `launch` (output redacted, echoed as it comes) and
`capture` (output kept apart, for the offline compiles that read it as data). Tests run the same calls with dbt
in-process instead of a child (tests_py/dbt_in_process.py): a fresh process is then not what they test."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from taglake.core import targets
from taglake.core.project import Project
from taglake.privacy.key_state import check_build_key
from taglake.privacy.keys import check_key_file
from taglake.privacy.redacted_output import log_size, redact_log_tail, run_redacted


class DbtError(RuntimeError):
    """dbt exited non-zero."""


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if not found:
        raise DbtError("dbt is not installed: run `make setup` first")
    return found


def dbt_command(*args: str) -> list[str]:
    """The command line of `dbt ARGS`: the one builder of dbt command lines (the dbt beside this Python)."""
    return [dbt_executable(), *args]


def offline_compile_args(
    *, inline: str | None = None, select: str | None = None, dbt_vars: Mapping[str, Any] | None = None
) -> list[str]:
    """`dbt compile` with no cache and no introspection, so it compiles for the AWS targets offline: of a Jinja-SQL
    snippet (`inline`; dbt prints {"compiled": …} as JSON, and writes no manifest.json or run_results.json, so the
    last run's artifacts stay what alerts, metrics and lineage read) or of the nodes `select` picks (artifacts in
    target/)."""
    args = ["--quiet", "--no-populate-cache", *(["--no-write-json"] if inline is not None else []), "compile"]
    args.append("--no-introspect")
    if dbt_vars is not None:
        args += ["--vars", json.dumps(dict(dbt_vars))]
    if select is not None:
        args += ["--select", select]
    if inline is not None:
        args += ["--output", "json", "--inline", inline]
    return args


def launch(args: Sequence[str], *, cwd: Path, env: Mapping[str, str], echo: TextIO | None) -> tuple[int, str]:
    """Run `dbt ARGS` as a child process in `cwd` with `env` (exactly that environment), stdout and stderr merged;
    every line is redacted of personal-data shapes and written to `echo` as it comes (unless None). Returns the
    exit code and the redacted output."""
    return run_redacted(dbt_command(*args), cwd=cwd, env=env, echo=echo)


def capture(args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `dbt ARGS` as a child process in `cwd` with `env`, stdout and stderr captured apart and not redacted:
    for the offline compiles, whose stdout is data (compiled SQL as JSON) and whose lake is never read."""
    return subprocess.run(dbt_command(*args), cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)


# dbt commands that never read the key or the database: they need no key file.
KEYLESS_COMMANDS = frozenset({"parse", "compile", "deps", "clean", "debug", "ls", "list", "init", "--version", "-v"})


def _dbt_command(args: Sequence[str]) -> str | None:
    """The dbt subcommand in ARGS (the first word that is not an option), e.g. `build`; `docs generate` → `docs`."""
    return next((a for a in args if not a.startswith("-")), args[0] if args else None)


def _target_in(args: Sequence[str]) -> str | None:
    """The target named in dbt ARGS (`--target T`, `--target=T`, `-t T`), if any."""
    for i, arg in enumerate(args):
        if arg in ("--target", "-t") and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith("--target="):
            return arg.split("=", 1)[1]
    return None


def prepare_local(project: Project, target: str | None, args: Sequence[str] = ("build",)) -> None:
    """What a local (DuckDB) target needs before dbt runs ARGS: the database folder and, for every command that
    reads data, a sound key file (owner-only, one well-formed key: taglake.privacy.keys.check_key_file) that is the key
    the existing database was built with (taglake.privacy.key_state). Never makes a key: `taglake keys init`
    does. Raises KeyFileError / KeyStateError, one line naming the file and the fix."""
    target = _target_in(args) or target
    if not targets.is_local(target):
        return
    project.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    if _dbt_command(args) in KEYLESS_COMMANDS:
        return
    key = check_key_file(project.key_file)
    check_build_key(local_database(project, target), key, key_file=project.key_file)


def local_database(project: Project, target: str | None) -> Path:
    """The DuckDB file a local target builds: the project's, or the system account's own for `local_system`."""
    declared = targets.targets(project.root).get(targets.resolve(target))
    if declared is not None and declared.engine == "duckdb" and declared.is_system:
        return targets.duckdb_file(declared.name, project.root)
    return project.duckdb_path


def run_dbt(
    project: Project,
    args: Sequence[str],
    *,
    target: str | None = None,
    check: bool = True,
    quiet: bool = False,
    on_failure: Callable[[str], str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> int:
    """Run `dbt ARGS` in the project folder (in the project's dbt environment, plus `extra_env`: a daily run's
    window, taglake.ops.run_window); raise DbtError on failure when `check`. With `quiet`, dbt's output is
    shown only if it fails: all of it, or what `on_failure` makes of it (e.g. the failing nodes' lines; "" shows
    nothing). Every line dbt prints, and every line it adds to its log file, is redacted of personal-data shapes
    (taglake.privacy.redacted_output). Colour codes only on a terminal (taglake.core.project.colour_env)."""
    prepare_local(project, target, args)
    log_file = project.log_path / "dbt.log"
    start = log_size(log_file)
    echo = None if quiet else sys.stdout
    try:
        env = {**project.dbt_env(target), **(extra_env or {})}
        code, output = launch(args, cwd=project.root, env=env, echo=echo)
    finally:
        redact_log_tail(log_file, start)
    if quiet and code != 0:
        print(output if on_failure is None else on_failure(output), end="")
    if check and code != 0:
        raise DbtError(f"`dbt {args[0] if args else ''}` failed with exit code {code}")
    return code


def compile_inline_offline(
    project: Project,
    sql: str,
    *,
    env: Mapping[str, str],
    dbt_vars: Mapping[str, Any] | None = None,
    what: str = "dbt compile --inline",
) -> str:
    """Compile a Jinja-SQL snippet without touching any database (no cache, no introspection), in `env` (a
    target's environment, or taglake.verify.offline_compile's with every endpoint closed), with `dbt_vars` passed
    as --vars; returns the SQL the target's adapter would run. DbtError, with dbt's output, naming `what` on
    failure."""
    result = capture(offline_compile_args(inline=sql, dbt_vars=dbt_vars or None), cwd=project.root, env=env)
    if result.returncode != 0:
        raise DbtError(f"{what} failed:\n{result.stdout}{result.stderr}")
    return str(json.loads(result.stdout)["compiled"])


# Where a compile with --vars keeps its parse: dbt parses the whole project again when --vars change, and would
# otherwise overwrite target/partial_parse.msgpack, so the next command without them would parse it all again too.
VARS_TARGET_DIR = "compile_with_vars"


def compile_inline(
    project: Project, sql: str, *, target: str | None = None, dbt_vars: Mapping[str, Any] | None = None
) -> str:
    """Compile a Jinja-SQL snippet for a target without touching its database (no cache, no introspection), so
    the AWS targets compile offline; returns the SQL the target's adapter would run. With `dbt_vars` (passed as
    --vars), dbt keeps that parse under target/compile_with_vars/, leaving the project's own partial parse as it was."""
    prepare_local(project, target, ["compile"])
    env = project.dbt_env(target)
    if dbt_vars:
        env["DBT_TARGET_PATH"] = str(project.target_path / VARS_TARGET_DIR)
    return compile_inline_offline(
        project, sql, env=env, dbt_vars=dbt_vars, what=f"dbt compile --inline for target {target or 'local'}"
    )
