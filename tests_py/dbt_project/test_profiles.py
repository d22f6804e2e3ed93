"""profiles.yml: local needs nothing; the AWS targets render from environment variables and only from them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from offline_env import OFFLINE_TARGET_ENV

from taglake.core.project import Project
from taglake.privacy import dbt_runner

ALL_TAGLAKE_VARS = {name for env in OFFLINE_TARGET_ENV.values() for name in env} | {
    "TAGLAKE_REDSHIFT_PASSWORD",
    "TAGLAKE_REDSHIFT_SYSTEM_PASSWORD",
    "TAGLAKE_TARGET",
}
AWS_TARGETS = ["athena", "athena_system", "redshift", "redshift_system"]


def _parse(tmp_path: Path, target: str, extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    project = Project.locate(artifacts_dir=tmp_path, duckdb_path=tmp_path / "t.duckdb")
    env = {k: v for k, v in project.dbt_env(target).items() if k not in ALL_TAGLAKE_VARS - {"TAGLAKE_TARGET"}}
    env.update(extra_env)
    return dbt_runner.capture(["parse", "--no-partial-parse"], cwd=project.root, env=env)


@pytest.mark.dbt  # a whole parse of the project per target
@pytest.mark.parametrize("target", list(OFFLINE_TARGET_ENV))
def test_every_target_parses_from_environment_variables_alone(tmp_path: Path, target: str) -> None:
    result = _parse(tmp_path, target, OFFLINE_TARGET_ENV[target])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("target", "missing"),
    [
        ("athena", "TAGLAKE_ATHENA_S3_DATA_DIR"),
        ("athena_system", "TAGLAKE_ATHENA_SYSTEM_WORK_GROUP"),
        ("redshift", "TAGLAKE_REDSHIFT_HOST"),
        ("redshift_system", "TAGLAKE_REDSHIFT_SYSTEM_USER"),
    ],
)
def test_an_unset_variable_fails_with_its_name(tmp_path: Path, target: str, missing: str) -> None:
    env = OFFLINE_TARGET_ENV[target]
    result = _parse(tmp_path, target, {k: v for k, v in env.items() if k != missing})
    assert result.returncode != 0
    assert f"Env var required but not provided: '{missing}'" in result.stdout + result.stderr


def test_aws_targets_take_every_account_value_from_the_environment() -> None:
    # Only engine settings may be literal; everything account-specific or secret is an env_var() with no real
    # default (an empty default is allowed for the fields one auth method leaves unused).
    import yaml

    profile = yaml.safe_load((Project.locate().root / "profiles.yml").read_text(encoding="utf-8"))["taglake"]
    literal_ok = {"type", "database", "s3_data_naming", "sslmode", "autocommit", "threads", "num_retries"}
    for target in AWS_TARGETS:
        for key, value in profile["outputs"][target].items():
            if key in literal_ok:
                continue
            assert isinstance(value, str) and value.startswith("{{ env_var('TAGLAKE_"), (target, key, value)
            assert "," not in value or value.split(",", 1)[1].startswith(" '')"), (target, key, value)
