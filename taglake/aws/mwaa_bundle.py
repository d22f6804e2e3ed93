"""The MWAA bundle: what goes to the MWAA bucket, laid out as the bucket holds it (docs/deployment.md).

    <out>/requirements.txt              dags/requirements.txt (Airflow side: cosmos, with Airflow's constraints)
    <out>/startup.sh                    dags/startup.sh (makes the dbt venv from the project bundle)
    <out>/dags/taglake_daily.py         the DAG, with dags/taglake_ops/ and dags/.airflowignore
    <out>/dags/taglake_project/         the git-tracked files of the checkout (dbt project + taglake), and
                                        target/manifest.json from `dbt parse` for the production target

Only git-tracked files are shipped (`git ls-files`: never lake/, build/, .secrets/, a key, a local database). The
manifest is parsed offline (no AWS credentials, every endpoint closed: taglake.verify.offline_compile.offline_env)
and then checked: no personal-data shape (taglake.privacy.patterns) and, when a local key file exists, none of its
key material. A bundle that fails the check is removed and refused.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taglake.core.artifacts import DBT_TEST_HASH
from taglake.core.errors import TaglakeError
from taglake.core.project import Project
from taglake.privacy import dbt_runner, patterns

DAG_FILES = ("taglake_daily.py", ".airflowignore")
DAG_PACKAGE = "taglake_ops"
TOP_FILES = ("requirements.txt", "startup.sh")
PROJECT_FOLDER = "taglake_project"


class BundleError(TaglakeError):
    """The bundle could not be made, or its manifest carries what it must not."""


@dataclass(frozen=True)
class Bundle:
    root: Path
    project: Path
    manifest: Path
    files: int


def tracked_files(root: Path) -> list[str]:
    """The checkout's git-tracked files that exist (deleted ones left out)."""
    result = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise BundleError(f"{root}: not a git checkout (git ls-files failed): make the bundle from a clone")
    return [name for name in result.stdout.split("\0") if name and (root / name).is_file()]


# What dbt and the project put in a manifest that has a personal-data shape but is neither: the 10-hex hash dbt
# appends to a test's unique_id (`….c769534687` reads as a national ID), and the owners' team addresses of exposures.
_DBT_HASH = re.compile(rf"\.{DBT_TEST_HASH}$")
_OWNER_EMAIL = ("owner", "email")


def _strings(value: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield _DBT_HASH.sub("", str(key))
            if not (path[:1] == ("exposures",) and (*path[-1:], key) == _OWNER_EMAIL):
                yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, path)
    elif isinstance(value, str):
        yield _DBT_HASH.sub("", value)


def manifest_problems(manifest: Path, project: Project) -> list[str]:
    """What the manifest must not carry, by kind, never a value: a personal-data shape (taglake.privacy.patterns,
    past dbt's test hashes and the exposures' owner addresses), and where this machine has them, the local lake's
    clear values and the local key's material (the leak scanner's canaries)."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    kinds = {found.kind for text in _strings(data) for found in patterns.find(text)}
    problems = sorted(f"a {kind} shape" for kind in kinds)
    lake = project.lake_dir if (project.lake_dir / "raw").is_dir() else None
    key = project.key_file if project.key_file.is_file() else None
    if lake or key:
        from taglake.privacy.scan.scanner import scan

        hits = scan(lake, db_path=None, folders=[manifest.parent], key_file=key)
        problems += sorted({f"{hit.kind} of the local lake or key" for hit in hits})
    return problems


def make_bundle(project: Project, out: Path, *, target: str = "athena") -> Bundle:
    """Write the bundle under `out` (replaced), parse the project for `target` offline into it, check the manifest."""
    from taglake.verify.offline_compile import offline_env

    root = project.root
    if out.exists():
        shutil.rmtree(out)
    dags = out / "dags"
    bundle_project = dags / PROJECT_FOLDER
    files = tracked_files(root)
    for name in files:
        dest = bundle_project / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, dest)
    for name in DAG_FILES:
        shutil.copy2(root / "dags" / name, dags / name)
    shutil.copytree(root / "dags" / DAG_PACKAGE, dags / DAG_PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    for name in TOP_FILES:
        shutil.copy2(root / "dags" / name, out / name)
    target_path = bundle_project / "target"
    env = offline_env(project, target)
    env.update({"DBT_TARGET_PATH": str(target_path), "DBT_LOG_PATH": str(out / "parse-logs")})
    result = dbt_runner.capture(["--quiet", "parse", "--target", target], cwd=bundle_project, env=env)
    manifest = target_path / "manifest.json"
    shutil.rmtree(out / "parse-logs", ignore_errors=True)
    if result.returncode != 0 or not manifest.is_file():
        raise BundleError(f"dbt parse for target {target} failed in {bundle_project}: run `taglake verify` to see why")
    for extra in target_path.iterdir():  # only the manifest ships: no partial-parse state, no perf info
        if extra != manifest:
            shutil.rmtree(extra) if extra.is_dir() else extra.unlink()
    problems = manifest_problems(manifest, project)
    if problems:
        shutil.rmtree(out)
        raise BundleError(f"{manifest}: carries {', '.join(problems)}: bundle removed; find it with taglake scan-pii")
    return Bundle(out, bundle_project, manifest, len(files))
