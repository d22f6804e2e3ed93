"""The masking key's life cycle (docs/privacy.md, section 3): only `taglake keys init` makes a key; every build,
through taglake and through dbt itself, stops with one line naming the key file and the fix when the key is
missing, truncated, malformed, too widely readable, or not the key the database was built with; and no key
material ever reaches the console, dbt's logs or its artifacts."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from project_copy import copy_project, dbt, run_taglake, scratch_env, scratch_project

from taglake.core.project import Project
from taglake.privacy.dbt_runner import prepare_local
from taglake.privacy.key_state import KeyStateError, recorded_key_state
from taglake.privacy.keys import HEADER, KeyFileError, MaskingKey, check_key_file, init_key, read_key, write_key


def _key_text(key: MaskingKey) -> list[str]:
    """What must never be printed: each part, and any 16-digit run of it."""
    parts = [key.k_inner, key.k_outer]
    return parts + [p[i : i + 16] for p in parts for i in range(0, len(p) - 15, 8)]


def _leaks(key: MaskingKey, *texts: str) -> list[str]:
    return [piece for piece in _key_text(key) for text in texts if piece in text]


def _files_text(*folders: Path) -> str:
    out = []
    for folder in folders:
        if folder.is_dir():
            for path in folder.rglob("*"):
                if path.is_file():
                    out.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(out)


# --- making a key -----------------------------------------------------------------------------------------------


def test_keys_init_makes_an_owner_only_key_and_never_replaces_one(tmp_path: Path) -> None:
    key_file = tmp_path / "secrets" / "keys.csv"
    key, made = init_key(key_file)
    assert made and key.key_version == 1
    assert oct(key_file.stat().st_mode & 0o777) == oct(0o600)
    assert oct(key_file.parent.stat().st_mode & 0o777) == oct(0o700)
    assert read_key(key_file) == key
    before = key_file.read_bytes()
    with pytest.raises(KeyFileError, match="never replaces"):
        init_key(key_file)
    kept, made = init_key(key_file, if_missing=True)
    assert not made and kept == key and key_file.read_bytes() == before
    assert "<hidden>" in repr(key) and key.k_inner not in repr(key) and key.k_inner not in str(key)


def test_keys_init_on_the_command_line_refuses_to_overwrite_and_prints_no_key(tmp_path: Path) -> None:
    project = scratch_project(tmp_path)
    env = scratch_env(tmp_path)
    first = run_taglake(["keys", "init"], env)
    assert first.returncode == 0, first.stderr
    key = read_key(project.key_file)
    again = run_taglake(["keys", "init"], env)
    assert again.returncode == 1
    assert again.stderr.count("\n") == 1 and str(project.key_file) in again.stderr and "rotate" in again.stderr
    assert read_key(project.key_file) == key
    status = run_taglake(["keys", "status"], env)
    assert status.returncode == 0 and "version 1" in status.stdout
    assert not _leaks(key, first.stdout, first.stderr, again.stdout, again.stderr, status.stdout, status.stderr)


def test_keys_status_strict_fails_on_a_build_made_with_another_key_naming_the_database(tmp_path: Path) -> None:
    # what the MWAA DAG's check_key task runs: a key that is not the build's is a key_problem, not a later failure
    env = scratch_env(tmp_path)
    project = scratch_project(tmp_path)
    assert run_taglake(["keys", "init"], env).returncode == 0
    key = read_key(project.key_file)
    project.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute("create schema taglake_privacy")
        con.execute("create table taglake_privacy.key_state as select 1 as key_version, 'f' || 'x' as key_fingerprint")
    assert run_taglake(["keys", "status"], env).returncode == 0  # shown, not refused
    strict = run_taglake(["keys", "status", "--strict"], env)
    assert strict.returncode != 0 and strict.stderr.count("\n") == 1, strict.stderr
    assert str(project.duckdb_path) in strict.stderr and "Traceback" not in strict.stderr
    assert not _leaks(key, strict.stdout, strict.stderr)
    with duckdb.connect(str(project.duckdb_path)) as con:
        con.execute("update taglake_privacy.key_state set key_fingerprint = ?", [key.fingerprint()])
    assert run_taglake(["keys", "status", "--strict"], env).returncode == 0


def test_nothing_but_keys_init_makes_a_key(tmp_path: Path) -> None:
    # Not importing the dbt runner, not preparing a build, not `taglake build`, not compiling.
    project = scratch_project(tmp_path)
    with pytest.raises(KeyFileError, match="taglake keys init"):
        prepare_local(project, "local", ["build"])
    prepare_local(project, "local", ["compile"])  # compiling reads no key, and makes none
    result = run_taglake(["build"], scratch_env(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"taglake build: no masking key at {project.key_file}: make one with `taglake keys init` (once per checkout; "
        "docs/privacy.md)"
    ]
    assert not project.key_file.exists() and not project.key_file.parent.exists()


def test_only_local_targets_need_the_local_key(tmp_path: Path) -> None:
    # An AWS runner has no local key file: dbt commands on an AWS target (named in the dbt args) do not ask for it
    project = scratch_project(tmp_path)
    prepare_local(project, None, ["run-operation", "rekey_tokens", "--target", "redshift_system"])
    prepare_local(project, "athena", ["build"])
    with pytest.raises(KeyFileError):
        prepare_local(project, "athena", ["build", "--target=local_system"])
    with pytest.raises(KeyFileError):
        prepare_local(project, None, ["show", "-t", "local"])


def test_the_demo_path_makes_the_key_explicitly() -> None:
    makefile = (Project.locate().root / "Makefile").read_text(encoding="utf-8")
    demo = makefile.split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    assert "taglake keys init --if-missing" in demo
    assert demo.index("keys init") < demo.index("taglake demo")


# --- a bad key file stops every build, in one line, without key material -----------------------------------------

GOOD = MaskingKey.new(1)
GOOD_ROW = f"1,{GOOD.k_inner},{GOOD.k_outer}"
HEAD = ",".join(HEADER)
BAD_CONTENT: dict[str, str] = {
    "empty": "",
    "header only": HEAD + "\n",
    "truncated in the outer key": f"{HEAD}\n{GOOD_ROW[:-20]}",
    "truncated in the header": HEAD[:8],
    "an extra column": f"{HEAD}\n{GOOD_ROW},{GOOD.k_inner[:8]}\n",
    "two keys": f"{HEAD}\n{GOOD_ROW}\n2,{GOOD.k_outer},{GOOD.k_inner}\n",
    "upper-case hex": f"{HEAD}\n1,{GOOD.k_inner.upper()},{GOOD.k_outer}\n",
    "a non-integer version": f"{HEAD}\nv1,{GOOD.k_inner},{GOOD.k_outer}\n",
    "a full-width version": f"{HEAD}\n\uff11,{GOOD.k_inner},{GOOD.k_outer}\n",
    "a short part": f"{HEAD}\n1,{GOOD.k_inner[:62]},{GOOD.k_outer}\n",
    "no header": f"{GOOD_ROW}\n",
    "quoted and spaced": f'{HEAD}\n1, "{GOOD.k_inner}",{GOOD.k_outer}\n',
}


def _write_raw(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)


@pytest.mark.redteam
@pytest.mark.parametrize("case", sorted(BAD_CONTENT))
def test_a_malformed_key_file_is_refused_without_quoting_it(tmp_path: Path, case: str) -> None:
    key_file = tmp_path / "keys.csv"
    _write_raw(key_file, BAD_CONTENT[case])
    with pytest.raises(KeyFileError) as caught:
        check_key_file(key_file)
    message = str(caught.value)
    assert str(key_file) in message and "\n" not in message and "backup" in message
    assert not _leaks(GOOD, message)


@pytest.mark.redteam
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_key_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    key_file = tmp_path / "keys.csv"
    write_key(key_file, GOOD)
    os.chmod(key_file, mode)
    with pytest.raises(KeyFileError, match=rf"chmod 600 {key_file}"):
        check_key_file(key_file)


@pytest.mark.redteam
def test_a_key_path_that_is_not_a_plain_file_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    write_key(real, GOOD)
    link = tmp_path / "keys.csv"
    link.symlink_to(real)
    with pytest.raises(KeyFileError, match="not a regular file"):
        check_key_file(link)
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    with pytest.raises(KeyFileError, match="not a regular file"):
        check_key_file(folder)


@pytest.mark.dbt
@pytest.mark.redteam
@pytest.mark.parametrize(
    ("case", "mode"),
    [("truncated in the outer key", 0o600), ("an extra column", 0o600), ("two keys", 0o600), ("world", 0o644)],
)
def test_taglake_build_stops_in_one_line_on_a_bad_key_file(tmp_path: Path, case: str, mode: int) -> None:
    project = scratch_project(tmp_path)
    _write_raw(project.key_file, BAD_CONTENT.get(case, f"{HEAD}\n{GOOD_ROW}\n"), mode)
    result = run_taglake(["build"], scratch_env(tmp_path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(project.key_file) in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not _leaks(GOOD, result.stdout, result.stderr, _files_text(project.target_path, project.log_path))
    assert not project.duckdb_path.exists()


@pytest.fixture(scope="module")
def seeded_copy(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """A project copy whose database holds one seed, built with the copy's key (so key_state records it)."""
    project = copy_project(tmp_path_factory.mktemp("keyed"))
    prepare_local(project, "local")
    result = dbt(project, "seed", "--select", "ref_currencies")
    assert result.returncode == 0, result.stdout[-3000:]
    return project


def _swap_key(project: Project, write: Callable[[Path], None]) -> bytes:
    saved = project.key_file.read_bytes()
    write(project.key_file)
    return saved


@pytest.mark.dbt
@pytest.mark.redteam
@pytest.mark.parametrize("case", ["truncated in the outer key", "an extra column", "two keys", "header only"])
def test_dbt_itself_stops_on_a_malformed_key_without_printing_it(seeded_copy: Project, case: str) -> None:
    project = seeded_copy
    key = read_key(project.key_file)
    bad = BAD_CONTENT[case].replace(GOOD.k_inner, key.k_inner).replace(GOOD.k_outer, key.k_outer)
    saved = _swap_key(project, lambda p: _write_raw(p, bad))
    try:
        result = dbt(project, "seed", "--select", "ref_currencies")
    finally:
        project.key_file.write_bytes(saved)
    assert result.returncode != 0
    errors = [line for line in result.stdout.splitlines() if "masking key:" in line]
    assert len(errors) == 1 and str(project.key_file) in errors[0] and "backup" in errors[0], result.stdout[-2000:]
    assert not _leaks(key, result.stdout, result.stderr, _files_text(project.target_path, project.log_path))


@pytest.mark.dbt
def test_the_database_records_the_key_that_built_it(seeded_copy: Project) -> None:
    key = read_key(seeded_copy.key_file)
    state = recorded_key_state(seeded_copy.duckdb_path)
    assert state is not None and state.schema == "taglake_privacy"
    assert (state.key_version, state.key_fingerprint) == (key.key_version, key.fingerprint())
    assert key.k_inner not in state.key_fingerprint and key.k_outer not in state.key_fingerprint


@pytest.mark.dbt
@pytest.mark.redteam
def test_a_build_with_another_key_than_the_database_records_is_refused(seeded_copy: Project) -> None:
    project = seeded_copy
    other = MaskingKey.new(2)
    saved = _swap_key(project, lambda p: write_key(p, other))
    try:
        with pytest.raises(KeyStateError, match=r"version 1, but .* holds version 2") as caught:
            prepare_local(project, "local", ["build"])
        assert "\n" not in str(caught.value) and "rotate --as-system" in str(caught.value)
        # dbt on its own (no taglake in front) refuses too, before any node
        result = dbt(project, "seed", "--select", "ref_currencies")
        # and a key of the same version that is not the recorded one
        write_key(project.key_file, MaskingKey.new(1))
        same_version = dbt(project, "seed", "--select", "ref_currencies")
    finally:
        project.key_file.write_bytes(saved)
    assert result.returncode != 0
    assert "built with key version 1" in result.stdout and "holds version 2" in result.stdout
    assert same_version.returncode != 0 and "another key of that version" in same_version.stdout
    assert not _leaks(other, result.stdout, result.stderr, _files_text(project.target_path, project.log_path))
    state = recorded_key_state(project.duckdb_path)
    assert state is not None and state.key_version == 1  # a refused run never adopts its key
    assert dbt(project, "seed", "--select", "ref_currencies").returncode == 0  # the recorded key still builds
