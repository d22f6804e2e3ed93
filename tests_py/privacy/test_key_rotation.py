"""Key rotation keeps history (docs/privacy.md, section 3): a build gains days, the key is rotated mid-history
(`taglake keys rotate --as-system`), more days are run, and every customer's history is still one chain under one
token; the old key is refused afterwards; and a rotation that fails part way, or is cut off before the key file
is swapped, leaves a consistent state.

The oracle is independent of the SQL: the raw lake's national IDs (taglake.privacy.scan.canaries) tokenized in Python
(taglake.privacy.tokens) under the old and the new key."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from db_tables import copy_db, differing_tables
from project_copy import dbt, run_taglake

from taglake.core.project import Project
from taglake.lake.generate import append_days
from taglake.ops.daily import run_daily
from taglake.privacy import rotation, system_identity
from taglake.privacy.key_state import recorded_key_state
from taglake.privacy.keys import MaskingKey, read_key, write_key
from taglake.privacy.scan.canaries import collect_canaries
from taglake.privacy.tokens import tokenize

pytestmark = pytest.mark.dbt

SNAPSHOTS = ("snap_customer_attributes", "snap_customer_tags", "snap_model_scores")
FACTS = ("fct_card_transactions", "fct_app_events")


def _copy_build(built: Project, work: Path) -> Project:
    """A private copy of the session's build: its lake, database and key (owner-only), with its own artifacts."""
    work.mkdir(parents=True)
    shutil.copytree(built.lake_dir, work / "lake")
    project = Project.locate(
        lake_dir=work / "lake",
        duckdb_path=work / "taglake.duckdb",
        artifacts_dir=work / "artifacts",
        key_file=work / "secrets" / "keys.csv",
    )
    copy_db(built.duckdb_path, project.duckdb_path)
    write_key(project.key_file, read_key(built.key_file))
    return project


def _identity(work: Path) -> dict[str, str]:
    """TAGLAKE_SYSTEM_IDENTITY naming a system identity made the documented way (`taglake system-identity init`)."""
    path = work / "identity" / "system_identity.json"
    system_identity.create_identity_file(path)
    return {system_identity.ENV: str(path)}


def _taglake(args: list[str], project: Project, **extra: str) -> subprocess.CompletedProcess[str]:
    """`taglake ARGS` on `project`, with no system identity but the one `extra` gives."""
    env = {k: v for k, v in project.dbt_env().items() if k != system_identity.ENV}
    return run_taglake(args, {**env, **extra}, cwd=project.root)


def _query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _tokens(ids: set[str], key: MaskingKey) -> dict[str, str]:
    """National ID (as normalised) → its token under `key`, computed in Python."""
    return {nid: tokenize(nid, "national_id", key.k_inner, key.k_outer) or "" for nid in ids}


def _history(db: Path, snapshot: str) -> list[tuple]:
    return _query(
        db,
        f"select customer_token, dbt_valid_from, dbt_valid_to from taglake_snapshots.{snapshot} "
        "order by customer_token, dbt_valid_from, dbt_valid_to nulls last",
    )


@dataclass
class Rotated:
    project: Project
    old_key: MaskingKey
    new_key: MaskingKey
    before: dict[str, list[tuple]]  # each snapshot's (token, valid_from, valid_to) before the rotation
    facts_before: dict[str, int]
    national_ids: set[str]
    rotate_result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def rotated(built_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Rotated:
    project = _copy_build(built_project, tmp_path_factory.mktemp("rotation") / "work")
    # history before the rotation: the first build, and one more day
    append_days(project.lake_dir, count=1, progress=False)
    assert run_daily(project, allow_stale=True, scan=False).ok
    old_key = read_key(project.key_file)
    before = {s: _history(project.duckdb_path, s) for s in SNAPSHOTS}
    facts_before = {f: _query(project.duckdb_path, f"select count(*) from taglake_marts.{f}")[0][0] for f in FACTS}

    result = _taglake(["keys", "rotate", "--as-system"], project, **_identity(project.lake_dir.parent))
    assert result.returncode == 0, result.stderr
    new_key = read_key(project.key_file)

    # more days after it
    append_days(project.lake_dir, count=2, progress=False)
    daily = run_daily(project, allow_stale=True, scan=False)
    assert daily.ok, daily.rows()
    ids = {v.upper() for v in collect_canaries(project.lake_dir)["national_id"]}
    return Rotated(project, old_key, new_key, before, facts_before, ids, result)


def test_the_rotation_swaps_the_key_and_records_it_without_printing_it(rotated: Rotated) -> None:
    assert rotated.new_key.key_version == rotated.old_key.key_version + 1
    assert rotated.new_key.k_inner != rotated.old_key.k_inner
    state = recorded_key_state(rotated.project.duckdb_path)
    assert state is not None and (state.key_version, state.key_fingerprint) == (
        rotated.new_key.key_version,
        rotated.new_key.fingerprint(),
    )
    assert not rotation.pending_key_file(rotated.project.key_file).exists()
    assert oct(rotated.project.key_file.stat().st_mode & 0o777) == oct(0o600)
    printed = rotated.rotate_result.stdout + rotated.rotate_result.stderr
    for key in (rotated.old_key, rotated.new_key):
        assert key.k_inner not in printed and key.k_outer not in printed
        assert key.k_inner[:16] not in printed and key.k_outer[:16] not in printed


def test_every_customer_history_is_one_chain_across_the_rotation(rotated: Rotated) -> None:
    old = _tokens(rotated.national_ids, rotated.old_key)
    new = _tokens(rotated.national_ids, rotated.new_key)
    old_to_new = {old[nid]: new[nid] for nid in rotated.national_ids}
    new_tokens, old_tokens = set(new.values()), set(old.values())
    db = rotated.project.duckdb_path
    for snapshot in SNAPSHOTS:
        after = _history(db, snapshot)
        tokens = {row[0] for row in after}
        assert tokens <= new_tokens, f"{snapshot}: tokens no customer has under the new key"
        assert not tokens & old_tokens, f"{snapshot}: rows left under the old key (a split history)"
        # every version recorded before the rotation is still there, under the customer's new token
        after_starts = {(t, start) for t, start, _ in after}
        for token, start, _ in rotated.before[snapshot]:
            assert (old_to_new[token], start) in after_starts, snapshot
    # snap_customer_attributes: each customer's versions are contiguous, at most one current
    by_customer: dict[str, list[tuple]] = {}
    for token, start, end in _history(db, "snap_customer_attributes"):
        by_customer.setdefault(token, []).append((start, end))
    for token, versions in by_customer.items():
        for (_, end), (next_start, _) in itertools.pairwise(versions):
            assert end == next_start, f"a gap or overlap in a customer's history ({token[:8]}…)"
        assert sum(1 for _, end in versions if end is None) <= 1
    assert len(by_customer) >= len({t for t, _, _ in rotated.before["snap_customer_attributes"]})


def test_incremental_facts_still_join_the_customers_after_the_rotation(rotated: Rotated) -> None:
    db = rotated.project.duckdb_path
    for fact in FACTS:
        total, orphans = _query(
            db,
            f"select count(*), count(*) filter (where d.customer_token is null) from taglake_marts.{fact} as f "
            "left join taglake_marts.dim_customers as d on f.customer_token = d.customer_token",
        )[0]
        assert orphans == 0, f"{fact}: {orphans} rows no longer join dim_customers"
        assert total > rotated.facts_before[fact], f"{fact}: the days after the rotation added nothing"


@pytest.mark.redteam
def test_after_the_rotation_the_old_key_is_refused(rotated: Rotated) -> None:
    project = rotated.project
    saved = project.key_file.read_bytes()
    write_key(project.key_file, rotated.old_key)
    try:
        result = _taglake(["build"], project)
        direct = dbt(project, "seed", "--select", "ref_currencies")
    finally:
        project.key_file.write_bytes(saved)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(project.key_file) in lines[0] and "rotate" in lines[0], result.stderr
    assert direct.returncode != 0 and "masking key:" in direct.stdout
    for text in (result.stdout, result.stderr, direct.stdout, direct.stderr):
        assert rotated.old_key.k_inner not in text and rotated.old_key.k_outer not in text


# --- a rotation that does not finish ------------------------------------------------------------------------------


class Injected(RuntimeError):
    pass


def _failing_after(count: int):
    calls = {"n": 0}

    def execute(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> int:
        calls["n"] += 1
        if calls["n"] > count:
            raise Injected("injected failure part way through the rotation")
        return rotation._execute(con, sql, params)

    return execute


@pytest.mark.redteam
def test_a_rotation_that_fails_part_way_leaves_the_old_key_and_the_old_tables(
    built_project: Project, tmp_path: Path
) -> None:
    project = _copy_build(built_project, tmp_path / "work")
    untouched = tmp_path / "untouched.duckdb"
    copy_db(project.duckdb_path, untouched)
    key_before = project.key_file.read_bytes()
    identity = _identity(tmp_path)
    with pytest.raises(Injected):
        rotation.rotate(project, as_system=True, environ=identity, execute=_failing_after(12))
    assert project.key_file.read_bytes() == key_before
    assert not rotation.pending_key_file(project.key_file).exists()
    assert differing_tables(untouched, project.duckdb_path) == {}
    state = recorded_key_state(project.duckdb_path)
    assert state is not None and state.key_fingerprint == read_key(project.key_file).fingerprint()
    # and the rotation still works afterwards
    result = rotation.rotate(project, as_system=True, environ=identity)
    assert result.new_version == 2 and sum(result.rewritten.values()) > 0


@pytest.mark.redteam
def test_a_rotation_cut_off_before_the_key_swap_is_refused_by_builds_and_finished_by_a_rerun(
    built_project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy_build(built_project, tmp_path / "work")
    old = read_key(project.key_file)

    def crash(*_: object) -> None:
        raise Injected("the process died between the commit and the key swap")

    identity = _identity(tmp_path)
    monkeypatch.setattr(rotation.os, "replace", crash)
    with pytest.raises(Injected):
        rotation.rotate(project, as_system=True, environ=identity)
    monkeypatch.undo()
    pending = rotation.pending_key_file(project.key_file)
    assert pending.exists() and read_key(project.key_file) == old
    # the database committed to the pending key: a build with the old key file is refused
    refused = _taglake(["build"], project)
    assert refused.returncode == 1 and "built with masking key version 2" in refused.stderr
    # the rerun finishes the same rotation (the pending key), without re-keying twice
    finished = rotation.rotate(project, as_system=True, environ=identity)
    assert finished.resumed and finished.new_version == 2 and not pending.exists()
    assert read_key(project.key_file).fingerprint() == recorded_key_state(project.duckdb_path).key_fingerprint


def test_the_rotation_needs_the_explicit_act_of_the_system_account(built_project: Project, tmp_path: Path) -> None:
    project = _copy_build(built_project, tmp_path / "work")
    result = _taglake(["keys", "rotate"], project, **_identity(tmp_path))  # the identity alone is not the act
    assert result.returncode == 1 and "--as-system" in result.stderr
    assert read_key(project.key_file) == read_key(built_project.key_file)


@pytest.mark.redteam
@pytest.mark.parametrize("identity", ["unset", "readable by others", "a folder"])
def test_the_rotation_without_the_system_identity_refuses_and_changes_nothing(
    identity: str, built_project: Project, tmp_path: Path
) -> None:
    project = _copy_build(built_project, tmp_path / "work")
    untouched = tmp_path / "untouched.duckdb"
    copy_db(project.duckdb_path, untouched)
    key_before = project.key_file.read_bytes()
    extra: dict[str, str] = {}
    if identity == "readable by others":
        extra = _identity(tmp_path)
        Path(extra[system_identity.ENV]).chmod(0o644)
    elif identity == "a folder":
        extra = {system_identity.ENV: str(tmp_path)}
    result = _taglake(["keys", "rotate", "--as-system"], project, **extra)
    assert result.returncode == 2, result.stdout[-1500:] + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert system_identity.ENV in lines[0] and "taglake system-identity init" in lines[0], lines[0]
    assert project.key_file.read_bytes() == key_before
    assert not rotation.pending_key_file(project.key_file).exists()
    assert differing_tables(untouched, project.duckdb_path) == {}
    key = read_key(project.key_file)
    assert key.k_inner not in result.stdout + result.stderr and key.k_outer not in result.stdout + result.stderr
