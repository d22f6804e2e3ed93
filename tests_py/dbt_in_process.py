"""dbt in-process for the tests (dbtRunner), each project parsed once per session.

A dbt child process spends a few seconds importing dbt and 12-18 s parsing the project before any SQL runs, and a
test's project has its own target/ and database, so dbt's partial parsing cannot help across tests (the profile's
database path is part of its check). Here dbt runs inside the test process and keeps each parsed manifest, keyed by
everything a parse reads: the project's files (by content, so a private copy of the unchanged project shares the
checkout's parse), the profile, the target, --vars, and the environment variables the profile and the project
read. The two paths the sources carry in their meta at parse time (TAGLAKE_LAKE_DIR, TAGLAKE_KEY_FILE) are
rebound to the test's own in each run's fresh copy of the kept parse; any other difference is a parse of its own.

`launch` and `capture` have the signatures of taglake.privacy.dbt_runner's, which the `in_process_dbt` fixture
(tests_py/conftest.py) replaces with them for the session, except in tests marked `fresh_process`: the key
checks, the log redaction and everything around the call stay the production code's. dbt's output is redacted
line by line, as the child's is. Calls from several threads (`taglake verify` compiles its targets side by side)
run one at a time: dbt's in-process state, the environment, the working directory and stdout are the process's.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from taglake.core.project import RUN_CHANGES_ENV, RUN_WINDOW_ENV
from taglake.ops.run_window import EXCLUDED_RESOURCES_ENV
from taglake.privacy.redacted_output import redact_line

# What a parse reads from the project folder (dbt_project.yml's paths, the profile, the selectors).
PROJECT_FILES = ("dbt_project.yml", "packages.yml", "selectors.yml", "profiles.yml", "dependencies.yml")
PROJECT_DIRS = ("models", "macros", "seeds", "snapshots", "tests", "analyses", "dbt_packages")

# Parse-time environment that the sources' meta holds as plain paths: rebound in each run's copy.
REBOUND = ("TAGLAKE_LAKE_DIR", "TAGLAKE_KEY_FILE")
# Where dbt writes, or how it prints: never part of a parse.
NOT_PARSED = (
    "DBT_TARGET_PATH",
    "DBT_LOG_PATH",
    "DBT_PROJECT_DIR",
    "DBT_PROFILES_DIR",
    "DBT_USE_COLORS",
    "DBT_USE_COLORS_FILE",
    "DBT_SEND_ANONYMOUS_USAGE_STATS",
    EXCLUDED_RESOURCES_ENV,  # selection, after the parse
    RUN_WINDOW_ENV,  # a daily run's window: macros read it only while nodes execute (run_window.sql)
    RUN_CHANGES_ENV,  # and its changed partitions, read the same way
)
# Database files: only the file's stem reaches the manifest (dbt-duckdb's database name).
DATABASE_FILES = ("TAGLAKE_DUCKDB_PATH", "TAGLAKE_SYSTEM_DUCKDB_PATH")
# Commands that parse the project first and accept a parsed manifest.
PARSING = frozenset(
    {"build", "run", "test", "seed", "snapshot", "compile", "show", "ls", "list", "docs", "source", "run-operation"}
)
PARSE_OPTIONS = ("--vars", "--target", "-t", "--profile")


def _subcommand(args: Sequence[str]) -> str | None:
    return next((a for a in args if not a.startswith("-")), None)


def _parse_options(args: Sequence[str]) -> list[str]:
    """The options in ARGS that change what a parse produces (--vars, --target, --profile), with their values."""
    kept: list[str] = []
    for i, arg in enumerate(args):
        name = arg.split("=", 1)[0]
        if name in PARSE_OPTIONS:
            kept += [arg] if "=" in arg else [arg, args[i + 1] if i + 1 < len(args) else ""]
    return kept


def project_fingerprint(root: Path) -> str:
    """A hash of every file a parse of the project at `root` reads, by path relative to `root` and content."""
    digest = hashlib.sha256()
    paths = [root / name for name in PROJECT_FILES if (root / name).is_file()]
    for folder in PROJECT_DIRS:
        if (root / folder).is_dir():
            paths += sorted(p for p in (root / folder).rglob("*") if p.is_file())
    for path in paths:
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def parse_key(args: Sequence[str], env: Mapping[str, str], root: Path) -> str:
    """Everything a parse of `root` under `env` with ARGS depends on, as one string."""
    environment = {
        name: value
        for name, value in env.items()
        if name.startswith(("TAGLAKE_", "DBT_")) and name not in (*REBOUND, *NOT_PARSED, *DATABASE_FILES)
    }
    databases = {name: Path(env[name]).stem for name in DATABASE_FILES if name in env}
    return json.dumps(
        [project_fingerprint(root), _parse_options(args), sorted(environment.items()), sorted(databases.items())]
    )


@contextlib.contextmanager
def environment(env: Mapping[str, str], cwd: Path) -> Iterator[None]:
    """os.environ replaced by `env` and the working directory by `cwd`, both restored afterwards."""
    saved, here = dict(os.environ), Path.cwd()
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)


def _close_duckdb() -> None:
    """Close the database dbt-duckdb keeps open between runs, so that the file is free for other readers."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    held = DuckDBConnectionManager._ENV
    DuckDBConnectionManager._ENV = None
    if held is not None:
        with contextlib.suppress(Exception):
            held.close()


def _write_manifest(manifest: Any, args: Sequence[str], env: Mapping[str, str], root: Path) -> None:
    """target/manifest.json, as the parse a dbt child makes writes it: a command given a kept parse skips that write,
    and callers read the file (the access plans read the manifest of their offline compile)."""
    given = list(args)
    folder = given[given.index("--target-path") + 1] if "--target-path" in given else env.get("DBT_TARGET_PATH")
    path = (root / (folder or "target")) / "manifest.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        manifest.write(str(path))


class InProcessDbt:
    """dbt in this process, with each distinct parse done once (see the module's docstring)."""

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.parses = 0
        self.runs = 0
        self._one_at_a_time = threading.RLock()

    def _manifest(self, args: Sequence[str], env: Mapping[str, str], root: Path) -> Any | None:
        """A fresh manifest for this call, from the kept parse, with its paths rebound; None when the command takes
        none. Fresh each time, as dbt's own partial parsing reads it back: a run marks the nodes it compiles."""
        from dbt.cli.main import dbtRunner
        from dbt.contracts.graph.manifest import Manifest
        from dbt.parser.manifest import extended_mashumaro_encoder, extended_mashumuro_decoder

        if _subcommand(args) not in PARSING:
            return None
        key = parse_key(args, env, root)
        if key not in self._parsed:
            result = dbtRunner().invoke(["--quiet", "parse", *_parse_options(args)])
            if not result.success or result.result is None:
                return None  # the run itself parses, and reports the error as dbt would
            self.parses += 1
            packed = result.result.to_msgpack(extended_mashumaro_encoder)
            self._parsed[key] = (packed, {name: env.get(name, "") for name in REBOUND})
        packed, parsed_with = self._parsed[key]
        manifest = Manifest.from_msgpack(packed, decoder=extended_mashumuro_decoder)
        rebind = {parsed_with[n]: env.get(n, "") for n in REBOUND if parsed_with[n]}
        for source in manifest.sources.values():
            for meta in (source.meta, source.config.meta, source.source_meta):
                for name, value in meta.items():
                    if isinstance(value, str) and value in rebind:
                        meta[name] = rebind[value]
        manifest.build_parent_and_child_maps()
        manifest.build_flat_graph()
        return manifest

    def _invoke(self, args: Sequence[str], env: Mapping[str, str], cwd: Path) -> tuple[int, str, str]:
        """Run dbt ARGS in-process; (exit code as dbt's command line gives it, stdout, stderr)."""
        from dbt.cli.main import dbtRunner

        out, err = io.StringIO(), io.StringIO()
        with (
            self._one_at_a_time,
            environment(env, cwd),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                root = Path(env.get("DBT_PROJECT_DIR") or cwd)
                manifest = self._manifest(args, env, root)
                result = dbtRunner(manifest=manifest).invoke(list(args))
                self.runs += 1
                if manifest is not None:
                    _write_manifest(manifest, args, env, root)
            finally:
                _close_duckdb()
        code = 0 if result.success else (2 if result.exception is not None else 1)
        return code, out.getvalue(), err.getvalue()

    def launch(self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str], echo: TextIO | None) -> tuple[int, str]:
        """taglake.privacy.dbt_runner.launch, in-process: output merged, redacted line by line, echoed."""
        code, out, err = self._invoke(args, env, cwd)
        output = "".join(redact_line(line) for line in (out + err).splitlines(keepends=True))
        if echo is not None:
            echo.write(output)
        return code, output

    def capture(self, args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """taglake.privacy.dbt_runner.capture, in-process: stdout and stderr apart, not redacted."""
        code, out, err = self._invoke(args, env, cwd)
        return subprocess.CompletedProcess(list(args), code, out, err)
