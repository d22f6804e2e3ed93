"""A system target (`*_system`) is not a name anyone can type: it needs the system identity — locally a 0600
credential file made by `taglake system-identity init`, on AWS the system role's session — checked before anything
runs, by `taglake query`, `taglake build` and `taglake dbt`, and by the key rotation (`taglake keys rotate
--as-system`); plain dbt fails without it too."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from offline_env import OFFLINE_TARGET_ENV
from project_copy import run_taglake, scratch_env

from taglake import cli
from taglake.core.project import Project
from taglake.privacy import dbt_runner, system_identity

SYSTEM_COMMANDS = {
    "query": ["query", "--target", "local_system", "--sql", "select 1"],
    "build": ["build", "--target", "local_system"],
    "build with the target among dbt's arguments": ["build", "--", "--target", "local_system"],
    "dbt": ["dbt", "ls", "--target", "local_system"],
    "dbt with -t": ["dbt", "ls", "-tlocal_system"],
    "run-daily": ["run-daily", "--target", "local_system", "--no-scan"],
    # Not a target, but the system account's act all the same: it reads the raw lake's clear values.
    "keys rotate": ["keys", "rotate", "--as-system"],
}


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The scratch environment (project_copy.scratch_env) with the system build under tmp_path too."""
    return scratch_env(tmp_path, TAGLAKE_SYSTEM_DUCKDB_PATH=str(tmp_path / "taglake_system.duckdb"), **extra)


@pytest.fixture
def identity(tmp_path: Path) -> Path:
    """A system identity made the documented way."""
    path = tmp_path / "secrets" / "system_identity.json"
    assert cli.main(["system-identity", "init", "--file", str(path)]) == 0
    return path


def test_init_makes_an_owner_only_file_that_check_accepts(
    identity: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert identity.stat().st_mode & 0o777 == 0o600
    assert identity.parent.stat().st_mode & 0o777 == 0o700
    body = json.loads(identity.read_text(encoding="utf-8"))
    assert body["kind"] == system_identity.KIND and body["uid"] == os.getuid()
    monkeypatch.setenv(system_identity.ENV, str(identity))
    assert cli.main(["system-identity", "check"]) == 0
    assert body["identity_id"] in capsys.readouterr().out
    assert cli.main(["system-identity", "init", "--file", str(identity)]) == 2, "an identity is never overwritten"


def _broken(kind: str, identity: Path, tmp_path: Path) -> str | None:
    """The value of TAGLAKE_SYSTEM_IDENTITY for each way of not having the identity."""
    if kind == "unset":
        return None
    if kind == "empty":
        return ""
    if kind == "missing file":
        return str(tmp_path / "nowhere.json")
    if kind == "readable by others":
        identity.chmod(0o644)
    elif kind == "a symlink":
        link = tmp_path / "link.json"
        link.symlink_to(identity)
        return str(link)
    elif kind == "a folder":
        return str(identity.parent)
    elif kind == "not the format":
        identity.write_text('{"kind": "something else"}', encoding="utf-8")
    elif kind == "made for another user":
        body = json.loads(identity.read_text(encoding="utf-8"))
        identity.write_text(json.dumps({**body, "uid": os.getuid() + 1}), encoding="utf-8")
    elif kind == "the key file instead":
        identity.write_text("key_version,k_inner,k_outer\n1,aa,bb\n", encoding="utf-8")
    return str(identity)


BROKEN = [
    "unset",
    "empty",
    "missing file",
    "readable by others",
    "a symlink",
    "a folder",
    "not the format",
    "made for another user",
    "the key file instead",
]


def _assert_refused(args: list[str], kind: str, identity: Path, tmp_path: Path) -> None:
    value = _broken(kind, identity, tmp_path)
    env = _env(tmp_path) if value is None else _env(tmp_path, **{system_identity.ENV: value})
    result = run_taglake(args, env)
    assert result.returncode == 2, (args, kind, result.stdout[-1500:], result.stderr)
    assert len(result.stderr.splitlines()) == 1 and "system identity" in result.stderr, result.stderr
    assert not (tmp_path / "artifacts").exists() and not (tmp_path / "taglake_system.duckdb").exists(), "something ran"


@pytest.mark.redteam
@pytest.mark.parametrize("kind", BROKEN)
def test_each_way_of_lacking_the_identity_is_refused_in_one_line(kind: str, identity: Path, tmp_path: Path) -> None:
    _assert_refused(SYSTEM_COMMANDS["query"], kind, identity, tmp_path)


@pytest.mark.redteam
@pytest.mark.parametrize("kind", ["unset", "readable by others"])
@pytest.mark.parametrize("command", list(SYSTEM_COMMANDS))
def test_every_command_on_a_system_target_needs_the_identity(
    command: str, kind: str, identity: Path, tmp_path: Path
) -> None:
    _assert_refused(SYSTEM_COMMANDS[command], kind, identity, tmp_path)


@pytest.mark.redteam
def test_a_system_target_named_through_the_environment_is_refused_too(tmp_path: Path) -> None:
    for name in ("TAGLAKE_TARGET", "DBT_TARGET"):
        result = run_taglake(["dbt", "ls"], _env(tmp_path, **{name: "local_system"}))
        assert result.returncode == 2 and "system identity" in result.stderr, (name, result.stderr)
    result = run_taglake(["query", "--sql", "select 1"], _env(tmp_path, TAGLAKE_TARGET="local_system"))
    assert result.returncode == 2 and "system identity" in result.stderr


@pytest.mark.dbt
def test_with_the_identity_query_and_dbt_run_on_the_system_target(identity: Path, tmp_path: Path) -> None:
    import duckdb

    env = _env(tmp_path, **{system_identity.ENV: str(identity)})
    assert run_taglake(["keys", "init"], env).returncode == 0
    with duckdb.connect(env["TAGLAKE_SYSTEM_DUCKDB_PATH"]) as con:
        con.execute("create schema taglake_vault")
        con.execute("create table taglake_vault.probe as select 7 as seven")
    result = run_taglake(["query", "--target", "local_system", "--sql", "select seven from taglake_vault.probe"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].strip() == "7"
    listed = run_taglake(["dbt", "ls", "--target", "local_system", "--select", "tag:vault", "--output", "name"], env)
    assert listed.returncode == 0, listed.stdout[-2000:] + listed.stderr
    assert "vault_customer_identities" in listed.stdout


@pytest.mark.parametrize("target", ["local_system", "athena_system", "redshift_system"])
def test_plain_dbt_cannot_use_a_system_target_without_the_identity(target: str, tmp_path: Path) -> None:
    env = {**_env(tmp_path), **OFFLINE_TARGET_ENV[target], "TAGLAKE_TARGET": target}
    env.pop(system_identity.ENV)
    result = dbt_runner.capture(["parse", "--no-partial-parse"], cwd=Project.locate().root, env=env)
    assert result.returncode != 0
    assert f"Env var required but not provided: '{system_identity.ENV}'" in result.stdout + result.stderr


# ---- AWS: the system role's session ------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> object:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("TAGLAKE_AWS_REGION", "ap-northeast-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        iam = boto3.client("iam", region_name="ap-northeast-1")
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "*"}]}
        iam.create_role(RoleName="taglake-system", AssumeRolePolicyDocument=json.dumps(trust))
        iam.create_role(RoleName="taglake-analyst", AssumeRolePolicyDocument=json.dumps(trust))
        yield iam


def _assume(monkeypatch: pytest.MonkeyPatch, role_arn: str) -> None:
    creds = (
        boto3.session.Session()
        .client("sts", region_name="ap-northeast-1")
        .assume_role(RoleArn=role_arn, RoleSessionName="job")
    )
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["Credentials"]["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["Credentials"]["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["Credentials"]["SessionToken"])


SYSTEM_ROLE = "arn:aws:iam::123456789012:role/taglake-system"


@pytest.mark.redteam
@pytest.mark.parametrize("target", ["athena_system", "redshift_system"])
def test_on_aws_only_the_system_roles_session_is_the_system_identity(
    target: str, aws: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(system_identity.ENV, SYSTEM_ROLE)
    with pytest.raises(system_identity.SystemIdentityRefused):  # a plain user's session
        system_identity.require_system_identity(target)
    _assume(monkeypatch, "arn:aws:iam::123456789012:role/taglake-analyst")
    with pytest.raises(system_identity.SystemIdentityRefused):  # another role's session
        system_identity.require_system_identity(target)
    monkeypatch.setenv(system_identity.ENV, "taglake-system")
    with pytest.raises(system_identity.SystemIdentityRefused):  # not an ARN
        system_identity.require_system_identity(target)
    monkeypatch.setenv(system_identity.ENV, SYSTEM_ROLE)
    _assume(monkeypatch, SYSTEM_ROLE)
    checked = system_identity.require_system_identity(target)
    assert checked is not None and checked.principal == SYSTEM_ROLE


@pytest.mark.redteam
def test_taglake_query_on_athena_system_needs_the_system_roles_session(
    aws: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in OFFLINE_TARGET_ENV["athena_system"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(system_identity.ENV, SYSTEM_ROLE)
    _assume(monkeypatch, "arn:aws:iam::123456789012:role/taglake-analyst")
    assert cli.main(["query", "--target", "athena_system", "--sql", "select 1"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not the system role's" in err
