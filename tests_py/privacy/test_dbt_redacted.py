"""`taglake-dbt`, the dbt the MWAA DAG's cosmos task group starts: dbt's own output, redacted line by line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from taglake.privacy.redacted_output import redact_line

PLANTED = ("A123456789", "Ａ１２３４５６７８９", "0912-345-678")


def tiny_project(root: Path) -> dict[str, str]:
    """A one-model dbt project on DuckDB (the wrapper does not depend on taglake's project; this one parses in
    a second): its folder, and the environment that points dbt at it."""
    (root / "models").mkdir(parents=True)
    (root / "models" / "m.sql").write_text("select 1 as x\n")
    (root / "dbt_project.yml").write_text("name: tiny\nversion: '1.0'\nprofile: tiny\n")
    (root / "profiles.yml").write_text(
        f"tiny:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: {root / 'tiny.duckdb'}\n"
    )
    return {**os.environ, "DBT_PROFILES_DIR": str(root), "DBT_LOG_PATH": str(root / "logs"), "DO_NOT_TRACK": "1"}


@pytest.mark.redteam
def test_taglake_dbt_prints_and_logs_no_personal_value_and_keeps_dbts_exit_code(tmp_path: Path) -> None:
    """cosmos's watcher runs dbt with --log-format json: JSON escapes a full-width value (`\\uff21`), which a
    redaction of the raw line would not see. dbt echoes an unknown selector in its warning;
    its log file is text."""
    env = tiny_project(tmp_path)
    executable = Path(sys.executable).with_name("taglake-dbt")
    assert executable.is_file(), "make setup installs the taglake-dbt entry point"
    result = subprocess.run(
        [str(executable), "--log-format", "json", "ls", "--select", *PLANTED],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    printed = result.stdout + result.stderr
    msgs = [json.loads(line)["info"]["msg"] for line in result.stdout.splitlines() if line.startswith("{")]
    assert any("does not match any enabled nodes" in msg for msg in msgs)  # dbt's own words, echoed
    logged = (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "does not match any enabled nodes" in logged
    for value in PLANTED:
        for spelling in (value, json.dumps(value)[1:-1]):
            assert spelling not in printed
            assert spelling not in logged

    failed = subprocess.run(
        [str(executable), "build", "--select", "no_such_model", "--no-such-flag"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert failed.returncode == 2  # dbt's usage error, passed through


def dbt_event(unique_id: str, msg: str) -> str:
    return json.dumps(
        {
            "data": {"node_info": {"unique_id": unique_id, "node_status": "fail", "resource_type": "test"}},
            "info": {"invocation_id": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", "msg": msg, "name": "NodeFinished"},
        }
    )


def test_a_dbt_json_line_keeps_dbts_own_ids_and_loses_every_personal_value() -> None:
    # a data test's id ends in a 10-hex hash; this one has a national ID's shape, and the watcher needs it whole
    test_id = "test.taglake.not_null_stg_core__customers_customer_id.e123456789"
    clean = json.loads(redact_line(dbt_event(test_id, "FAIL 1 Ａ１２３４５６７８９ and 0912-345-678") + "\n"))
    assert clean["data"]["node_info"]["unique_id"] == test_id
    assert clean["info"]["invocation_id"] == "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
    assert clean["info"]["msg"] == "FAIL 1 [national_id] and [mobile]"


@pytest.mark.redteam
@pytest.mark.parametrize(
    "smuggled",
    ["A123456789", "test.taglake.x A123456789", "model.taglake.x.a123456789\nA123456789", "ｍodel.taglake.A123456789"],
)
def test_a_value_under_an_id_key_without_dbts_id_shape_is_redacted(smuggled: str) -> None:
    clean = redact_line(dbt_event(smuggled, "ok"))
    assert "123456789" not in clean
    assert json.loads(clean)["data"]["node_info"]["unique_id"] != smuggled


def test_a_json_line_with_nothing_to_redact_is_left_byte_for_byte() -> None:
    line = dbt_event("test.taglake.not_null_x.e123456789", "PASS not_null_x") + "\r\n"
    assert redact_line(line) == line
