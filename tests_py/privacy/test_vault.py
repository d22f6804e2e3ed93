"""The vault: clear identities by token, built only by the system account's targets."""

from __future__ import annotations

import subprocess

import duckdb
import pytest

from taglake import cli
from taglake.core.project import Project
from taglake.lake.national_id import is_valid
from taglake.privacy import dbt_runner
from taglake.privacy.dbt_runner import prepare_local
from taglake.privacy.scan.scanner import scan
from taglake.privacy.system_identity import ENV as SYSTEM_IDENTITY

pytestmark = pytest.mark.dbt


def _dbt(project: Project, target: str, *args: str) -> subprocess.CompletedProcess[str]:
    prepare_local(project, target)
    return dbt_runner.capture([*args, "--target", target], cwd=project.root, env=project.dbt_env())


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
    built_project: Project, tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    system_db = tmp_path / "taglake_system.duckdb"
    for name, value in built_project.dbt_env().items():
        if name.startswith("TAGLAKE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    monkeypatch.setenv("TAGLAKE_SYSTEM_DUCKDB_PATH", str(system_db))
    for name in ("TAGLAKE_TARGET", "DBT_TARGET", SYSTEM_IDENTITY):
        monkeypatch.delenv(name, raising=False)
    build_vault = ["build", "--target", "local_system", "--", "--select", "vault_customer_identities"]
    # A target name is not the system identity: refused, nothing built.
    assert cli.main(build_vault) == 2
    assert "system identity" in capsys.readouterr().err
    assert not system_db.exists()
    # The explicit act of the system identity: the credential file, then the variable naming it.
    identity = tmp_path / "secrets" / "system_identity.json"
    assert cli.main(["system-identity", "init", "--file", str(identity)]) == 0
    monkeypatch.setenv(SYSTEM_IDENTITY, str(identity))
    assert cli.main(build_vault) == 0
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
