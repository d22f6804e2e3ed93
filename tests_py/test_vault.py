"""The vault: clear identities by token, built only by the system account's targets."""

from __future__ import annotations

import subprocess

import duckdb
import pytest

from taglake.dbt import dbt_executable, prepare_local, run_dbt
from taglake.national_id import is_valid
from taglake.project import Project
from taglake.scan import scan

pytestmark = pytest.mark.dbt


def _dbt(project: Project, target: str, *args: str) -> subprocess.CompletedProcess[str]:
    prepare_local(project, target)
    return subprocess.run(
        [dbt_executable(), *args, "--target", target],
        cwd=project.root,
        env=project.dbt_env(),
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_default_target_cannot_build_the_vault(built_project: Project) -> None:
    listed = _dbt(built_project, "local", "ls", "--resource-type", "model", "--output", "name")
    assert listed.returncode == 0
    assert "vault_customer_identities" not in listed.stdout
    assert "stg_crm__customers" in listed.stdout
    run = _dbt(built_project, "local", "run", "--select", "vault_customer_identities")
    assert "does not match any enabled nodes" in run.stdout
    with duckdb.connect(str(built_project.duckdb_path), read_only=True) as con:
        schemas = {r[0] for r in con.sql("select schema_name from information_schema.schemata").fetchall()}
    assert not any("vault" in s for s in schemas)


def test_the_system_target_builds_the_vault_and_only_it_reidentifies(
    built_project: Project, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_db = tmp_path / "taglake_system.duckdb"
    env_project = Project(
        root=built_project.root,
        lake_dir=built_project.lake_dir,
        duckdb_path=built_project.duckdb_path,
        target_path=tmp_path / "target",
        log_path=tmp_path / "logs",
        key_file=built_project.key_file,
    )
    monkeypatch.setenv("TAGLAKE_SYSTEM_DUCKDB_PATH", str(system_db))
    run_dbt(env_project, ["build", "--select", "vault_customer_identities"], target="local_system")
    with duckdb.connect(str(system_db), read_only=True) as con:
        con.execute(f"attach '{built_project.duckdb_path}' as masked (read_only)")
        joined = con.sql(
            "select v.national_id from taglake_vault.vault_customer_identities v "
            "join masked.taglake_staging.stg_cards__transactions t using (customer_token) limit 100"
        ).fetchall()
    assert len(joined) == 100, "tokens in the masked build re-identify through the vault"
    assert all(is_valid(nid) for (nid,) in joined)
    # The vault is exactly what the scanner exists to find: it lights up there, and nowhere else.
    hits = scan(built_project.lake_dir, db_path=system_db, folders=[], key_file=built_project.key_file)
    assert hits and {h.where.split(".")[0] for h in hits} == {"relation taglake_vault"}
