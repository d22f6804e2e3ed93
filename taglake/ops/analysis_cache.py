"""The analyses compiled once, kept for `taglake query` (target/query_cache/).

dbt takes 20 s or more to compile an analysis (most of it parsing the project), so `taglake query <analysis>`
compiles every analysis under analyses/ in one dbt invocation and keeps the compiled SQL, one entry per
(target, --vars, everything the compiled text can depend on). The entry's key is a SHA-256 of:
- the target, its engine and the `--vars` given;
- the content of every file dbt reads to compile them: analyses/, macros/, models/, seeds/, snapshots/,
  dbt_packages/, dbt_project.yml, profiles.yml, packages.yml, package-lock.yml, dependencies.yml;
- the values of the environment variables those files read with env_var() and of dbt's DBT_* variables, in the
  environment dbt would run with (a name holding PASSWORD, SECRET or TOKEN is left out: no secret is hashed into a
  file name, and none changes an analysis' SQL; so are dbt's colour settings, which follow the terminal);
- the versions of dbt-core and taglake.
So a changed analysis, macro, model config, var value, profile or schema variable compiles again. Only compiled SQL
of analyses is kept (no data, no key): analyses read the consumption relations, and the system account's targets
(`*_system`, which may name the vault) are never cached. An entry that cannot be read, does not parse, or whose
digest or key does not match is ignored and compiled again, never trusted; and the SQL of an entry that is trusted
still goes through every check the query runs (the vault guard, the SQL policy, the locked connection:
taglake.ops.query).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from taglake.core.project import Project

CACHE_DIR = "query_cache"
# dbt's own work folders for the compile, without and with --vars (each keeps its partial parse between compiles;
# their artifacts never replace the project's target/manifest.json or run_results.json, which alerts, metrics and
# lineage read). dbt parses the whole project again when --vars change, so the two are kept apart.
DBT_WORK_DIR = "dbt"
DBT_VARS_WORK_DIR = "dbt_vars"
PARTIAL_PARSE = "partial_parse.msgpack"
ENTRY_FORMAT = 1
# Entries kept: the newest by modification time; older ones are removed when a new one is written.
MAX_ENTRIES = 64

_DIRS = ("analyses", "macros", "models", "seeds", "snapshots", "dbt_packages")
_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "package-lock.yml", "dependencies.yml")
_ENV_VAR = re.compile(r"""env_var\(\s*['"]([A-Za-z0-9_]+)['"]""")
_SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN", re.IGNORECASE)
# dbt settings that change its console, not the SQL: the colours follow whether stdout is a terminal.
_UNRELATED_ENV = frozenset({"DBT_USE_COLORS", "DBT_USE_COLORS_FILE"})

# (project, target, dbt vars) → {analysis name: compiled SQL}; raises on failure (taglake.privacy.dbt_runner).
CompileAll = Callable[[Project, str, Mapping[str, Any]], dict[str, str]]


def cache_dir(project: Project) -> Path:
    return project.target_path / CACHE_DIR


def _inputs(root: Path) -> Iterator[Path]:
    for name in _FILES:
        if (root / name).is_file():
            yield root / name
    for folder in _DIRS:
        base = root / folder
        if base.is_dir():
            yield from sorted(p for p in base.rglob("*") if p.is_file())


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("dbt-core", "taglake"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = ""
    return found


def cache_key(project: Project, target: str, dbt_vars: Mapping[str, Any]) -> str:
    """The SHA-256 naming the entry for these analyses compiled for `target` with `dbt_vars` (module docstring)."""
    from taglake.core import targets

    digest = hashlib.sha256()
    names: set[str] = set()
    for path in _inputs(project.root):
        data = path.read_bytes()
        names.update(_ENV_VAR.findall(data.decode("utf-8", errors="replace")))
        digest.update(f"{path.relative_to(project.root).as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    env = project.dbt_env(target)
    named = names | {n for n in env if n.startswith("DBT_")}
    watched = sorted(n for n in named - _UNRELATED_ENV if not _SECRET_NAME.search(n))
    described = {
        "format": ENTRY_FORMAT,
        "target": target,
        "engine": targets.engine_of(target, project.root),
        "vars": dict(dbt_vars),
        "env": {name: env.get(name) for name in watched},
        "versions": _versions(),
        "files": digest.hexdigest(),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def _sql_digest(analyses: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(analyses), sort_keys=True).encode()).hexdigest()


def entry_path(project: Project, key: str) -> Path:
    return cache_dir(project) / f"analyses-{key}.json"


def read_entry(project: Project, key: str) -> dict[str, str] | None:
    """The compiled analyses kept under `key`, or None when there is no entry or it is not sound (unreadable, not
    JSON, another format or key, a digest that does not match its SQL): such an entry is never trusted."""
    try:
        doc = json.loads(entry_path(project, key).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != ENTRY_FORMAT or doc.get("key") != key:
        return None
    analyses = doc.get("analyses")
    if not isinstance(analyses, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in analyses.items()
    ):
        return None
    if doc.get("digest") != _sql_digest(analyses):
        return None
    return analyses


def write_entry(project: Project, key: str, analyses: Mapping[str, str]) -> None:
    """Keep `analyses` under `key`: written under a temporary name and moved into place (a reader never sees half
    of it); the oldest entries beyond MAX_ENTRIES are removed."""
    folder = cache_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    path = entry_path(project, key)
    doc = {"format": ENTRY_FORMAT, "key": key, "digest": _sql_digest(analyses), "analyses": dict(analyses)}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(json.dumps(doc, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    entries = sorted(folder.glob("analyses-*.json"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        old.unlink(missing_ok=True)


@contextlib.contextmanager
def _locked(project: Project) -> Iterator[None]:
    """One compile at a time per project (they share dbt's work folder); no lock where fcntl is missing."""
    folder = cache_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _seed_partial_parse(source: Path, kept: Path) -> None:
    """Start from the project's own partial parse (the last build's) when it is newer than the one kept: dbt checks
    it against the project, profile, vars and environment itself and parses everything again if it does not match,
    so at worst this costs the full parse it would have done anyway."""
    try:
        if source.is_file() and (not kept.is_file() or source.stat().st_mtime_ns > kept.stat().st_mtime_ns):
            shutil.copy2(source, kept)
    except OSError:  # an unreadable or vanished parse: dbt parses from scratch
        kept.unlink(missing_ok=True)


def compile_all_with_dbt(project: Project, target: str, dbt_vars: Mapping[str, Any]) -> dict[str, str]:
    """Every analysis under analyses/ compiled for `target` with `dbt_vars`, in one offline `dbt compile` (no
    database touched) whose work folder is target/query_cache/dbt/ (dbt_vars/ with --vars). DbtError, with dbt's
    output, on failure."""
    from taglake.core.sources import load_yaml
    from taglake.privacy import dbt_runner

    dbt_runner.prepare_local(project, target, ["compile"])
    work = cache_dir(project) / (DBT_VARS_WORK_DIR if dbt_vars else DBT_WORK_DIR)
    work.mkdir(parents=True, exist_ok=True)
    if not dbt_vars:
        _seed_partial_parse(project.target_path / PARTIAL_PARSE, work / PARTIAL_PARSE)
    doc = load_yaml((project.root / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    compiled = work / "compiled" / str(doc.get("name", "")) / "analyses"
    shutil.rmtree(work / "compiled", ignore_errors=True)  # no analysis of an earlier compile is read back
    env = project.dbt_env(target)
    env["DBT_TARGET_PATH"] = str(work)
    args = dbt_runner.offline_compile_args(select="resource_type:analysis", dbt_vars=dict(dbt_vars) or None)
    result = dbt_runner.capture(args, cwd=project.root, env=env)
    if result.returncode != 0:
        raise dbt_runner.DbtError(
            f"dbt compile of the analyses for target {target} failed:\n{result.stdout}{result.stderr}"
        )
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(compiled.glob("*.sql"))}


def compiled_analysis(
    project: Project,
    target: str,
    name: str,
    dbt_vars: Mapping[str, Any],
    *,
    compile_one: Callable[[], str],
    compile_all: CompileAll | None = None,
) -> str:
    """The SQL of analyses/<name>.sql compiled for `target` with `dbt_vars`: from the cache when an entry for the
    key holds it, else every analysis compiled at once (`compile_all`, by default compile_all_with_dbt) and kept.
    When compiling them all fails (another analysis may need a var that was not given), `compile_one` compiles this
    one alone (its failure is the caller's error) and that is kept."""
    key = cache_key(project, target, dbt_vars)
    kept = read_entry(project, key)
    if kept is not None and name in kept:
        return kept[name]
    with _locked(project):
        kept = read_entry(project, key)  # another process may have compiled them meanwhile
        if kept is not None and name in kept:
            return kept[name]
        try:
            analyses = (compile_all or compile_all_with_dbt)(project, target, dbt_vars)
        except Exception:  # compile this one alone below: its error, if any, is the one to show
            analyses = {}
        if name not in analyses:
            analyses = {**(kept or {}), **analyses, name: compile_one()}
        if cache_key(project, target, dbt_vars) == key:  # a file changed while dbt ran: keep nothing
            write_entry(project, key, analyses)
        return analyses[name]
