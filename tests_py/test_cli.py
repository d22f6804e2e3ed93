"""The `taglake` command as a user runs it."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from project_copy import run_taglake as _taglake
from project_copy import run_taglake_process

from taglake.core.project import Project


def test_help_names_every_command() -> None:
    result = run_taglake_process(["--help"])  # the command as installed: `python -m taglake`
    assert result.returncode == 0
    for command in ("generate", "build", "run-daily", "run-window", "demo", "dbt", "catalog", "upload", "query"):
        assert re.search(rf"\n    {command}\s", result.stdout), command
    assert "make demo" in result.stdout


def test_generate_help_documents_the_sizes() -> None:
    result = _taglake(["generate", "--help"])
    assert result.returncode == 0
    for flag in ("--out", "--scale", "--customers", "--days", "--seed", "--end-date", "--defect-rate"):
        assert flag in result.stdout


def test_generate_refuses_bad_parameters_with_a_clear_error(tmp_path: Path) -> None:
    result = _taglake(["generate", "--out", str(tmp_path / "lake"), "--defect-rate", "0.9", "--no-progress"])
    assert result.returncode == 1
    assert result.stderr.startswith("taglake generate: ")
    assert "defect" in result.stderr
    assert not (tmp_path / "lake" / "raw").exists()


def test_generate_writes_the_lake_and_reports_each_table(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    result = _taglake(["generate", "--out", str(out), "--customers", "50", "--days", "3", "--no-progress"])
    assert result.returncode == 0, result.stderr
    assert (out / "manifest.json").is_file()
    for table in ("crm.customers", "core_banking.accounts", "cards.transactions", "digital.app_events"):
        assert table in result.stdout


def test_generate_append_day_adds_the_next_day_to_the_lake(tmp_path: Path) -> None:
    out = tmp_path / "lake"
    base = ["generate", "--out", str(out), "--customers", "50", "--days", "3", "--no-progress"]
    assert _taglake(base).returncode == 0
    result = _taglake(["generate", "--out", str(out), "--append-day", "--no-progress"])
    assert result.returncode == 0, result.stderr
    assert "last landing day 2026-11-01" in result.stdout
    assert (out / "raw" / "cards" / "transactions" / "year=2026" / "month=11" / "day=01").is_dir()
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["params"]["appended_days"] == 1


def test_generate_append_day_without_a_lake_fails_clearly(tmp_path: Path) -> None:
    result = _taglake(["generate", "--out", str(tmp_path / "none"), "--append-day", "--no-progress"])
    assert result.returncode == 1
    assert "no lake to append to" in result.stderr


@pytest.mark.dbt
def test_run_daily_on_a_stale_lake_fails_before_building(tmp_path: Path) -> None:
    project = Project.locate(
        lake_dir=tmp_path / "lake", duckdb_path=tmp_path / "taglake.duckdb", artifacts_dir=tmp_path / "artifacts"
    )
    assert datetime.now(UTC).date() >= date(2026, 11, 3), "the default lake (ending 2026-10-31) is stale from then on"
    env = project.dbt_env()
    assert _taglake(["generate", "--customers", "50", "--days", "2", "--no-progress"], env=env).returncode == 0
    result = _taglake(["run-daily"], env=env)
    assert result.returncode == 1
    assert "source freshness  FAILED" in result.stdout
    assert "daily run FAILED" in result.stderr
    assert not project.duckdb_path.exists() or "build " not in result.stdout


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Project, subprocess.CompletedProcess[str]]:
    """One `taglake demo` in a folder of its own, piped (no terminal), for the tests of what it prints."""
    work = tmp_path_factory.mktemp("demo")
    project = Project.locate(
        lake_dir=work / "lake", duckdb_path=work / "taglake.duckdb", artifacts_dir=work / "artifacts"
    )
    return project, _taglake(["demo"], env=project.dbt_env())


@pytest.mark.dbt
def test_demo_builds_and_prints_a_summary_and_a_sample_query(
    demo_run: tuple[Project, subprocess.CompletedProcess[str]],
) -> None:
    _, result = demo_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "What landed, and what staging did with it:" in out
    for table in ("crm.customers", "core_banking.accounts", "cards.transactions", "digital.app_events"):
        assert table in out
    assert "Sample query (analyses/card_spend_by_category.sql):" in out
    sample = out.split("Sample query", 1)[1]
    assert "spend_category" in sample and "dining" in sample


@pytest.mark.dbt
def test_demo_output_is_short_uncoloured_and_ends_clean(
    demo_run: tuple[Project, subprocess.CompletedProcess[str]],
) -> None:
    """The newcomer's first run, piped: progress, the build's counts, a summary and where to look next; dbt's
    per-node lines only in logs/dbt.log; no colour codes; no warning that only means the demo lake is small."""
    project, result = demo_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout + result.stderr
    assert "\x1b[" not in out
    assert len(out.splitlines()) < 80, out
    assert " of " not in out.split("dbt build:", 1)[1].split("\n", 1)[0]  # no per-node `12 of 271 OK …`
    assert "No packages were found" not in out
    build_line = next(line for line in out.splitlines() if line.startswith("dbt build:") and "nodes" in line)
    assert re.search(r"PASS [1-9]\d*, WARN 0, ERROR 0, SKIP 0", build_line), build_line
    assert "Where to look next:" in out and "make docs-serve" in out
    log = (project.log_path / "dbt.log").read_text(encoding="utf-8")
    assert "assert_every_active_tag_has_holders" in log and "\x1b[" not in log


# ---- errors: one line, no traceback, no value echoed ----------------------------------------------------------------

PLANTED = "A123456789"  # a well-formed national ID, planted in each bad input

BAD_INPUTS = {
    "malformed SQL": (["query", "--sql", f"selec * frm x where national_id = '{PLANTED}'"], 2),
    "two statements": (["query", "--sql", f"select 1; select '{PLANTED}'"], 2),
    "negative --limit": (["query", "--limit", "-5", "--sql", "select 1"], 2),
    "a value as --limit": (["query", "--limit", PLANTED, "--sql", "select 1"], 2),
    "negative --usd-per-tb": (["query", "--usd-per-tb", "-1", "--sql", "select 1"], 2),
    "unknown query target": (["query", "--target", PLANTED, "--sql", "select 1"], 2),
    "missing --file": (["query", "--file", f"/nonexistent/{PLANTED}.sql"], 2),
    "unknown analysis": (["query", PLANTED], 1),
    "both --sql and --file": (["query", "--sql", "select 1", "--file", f"{PLANTED}.sql"], 2),
    "unknown option": (["query", "--sql", "select 1", f"--{PLANTED}"], 2),
    "unknown command": ([PLANTED], 2),
    "wrong --scale": (["generate", "--scale", PLANTED], 2),
    "a value as --days": (["generate", "--days", PLANTED], 2),
    "a value as --end-date": (["generate", "--end-date", PLANTED], 2),
    "unknown build target": (["build", "--target", PLANTED], 2),
    "unknown dbt target": (["dbt", "ls", "--target", PLANTED], 2),
    "unknown verify target": (["verify", "--target", PLANTED], 2),
    "unknown keys action": (["keys", PLANTED], 2),
    "a value as --rows": (["bench", "masking", "--rows", PLANTED], 2),
    "missing scan database": (["scan-pii", "--db", f"/nonexistent/{PLANTED}.duckdb"], 2),  # nothing scanned
    "malformed --database": (["catalog", "--bucket", "b", "--database", PLANTED, "--dry-run"], 1),
}


def _assert_one_clean_line(result: subprocess.CompletedProcess[str], expected_code: int) -> None:
    assert result.returncode == expected_code, (result.returncode, result.stdout[-1000:], result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("taglake") and "Traceback" not in result.stderr
    assert PLANTED.casefold() not in (result.stdout + result.stderr).casefold(), result.stderr


def _clean_env(tmp_path: Path) -> dict[str, str]:
    project = Project.locate(
        lake_dir=tmp_path / "lake",
        duckdb_path=tmp_path / "t.duckdb",
        artifacts_dir=tmp_path / "artifacts",
        key_file=tmp_path / "key" / "masking_keys.csv",
    )
    env = project.dbt_env()
    for name in ("TAGLAKE_TARGET", "DBT_TARGET", "TAGLAKE_DEBUG", "TAGLAKE_SYSTEM_IDENTITY"):
        env.pop(name, None)
    return env


@pytest.mark.redteam
@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_bad_input_is_one_line_without_its_value(case: str, tmp_path: Path) -> None:
    args, code = BAD_INPUTS[case]
    _assert_one_clean_line(_taglake(args, _clean_env(tmp_path)), code)


@pytest.mark.redteam
def test_an_unreadable_database_is_one_generic_line_and_debug_shows_only_where(tmp_path: Path) -> None:
    bad = tmp_path / f"{PLANTED}.duckdb"
    bad.write_text(f"not a database {PLANTED}\n", encoding="utf-8")
    args = ["query", "--db", str(bad), "--sql", "select 1"]
    result = _taglake(args, _clean_env(tmp_path))
    _assert_one_clean_line(result, 1)
    assert "IOException" in result.stderr
    debug = _taglake(args, {**_clean_env(tmp_path), "TAGLAKE_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" not in debug.stderr
    first, *frames = debug.stderr.splitlines()
    assert first == result.stderr.strip()
    assert frames and all(re.fullmatch(r"  at .+:\d+ in \w+|  at .+:\d+ in <\w+>", f) for f in frames), frames
    assert PLANTED not in debug.stderr.replace(str(bad), "")


ENGINE_ERRORS = {
    "binder error naming the value": f"select {PLANTED} from taglake_marts.dim_customers",
    "conversion error quoting the value": f"select cast('{PLANTED}' as integer) as n",
    "catalog error naming the value": f"select * from taglake_marts.{PLANTED}",
    "a value in a failing comparison": f"select * from taglake_marts.dim_customers where customer_token = {PLANTED}",
}


@pytest.mark.dbt
@pytest.mark.redteam
@pytest.mark.parametrize("case", list(ENGINE_ERRORS))
def test_an_engine_error_is_one_line_with_its_class_and_no_value(case: str, built_project: Project) -> None:
    env = {k: v for k, v in built_project.dbt_env().items() if k not in ("TAGLAKE_TARGET", "DBT_TARGET")}
    result = _taglake(["query", "--sql", ENGINE_ERRORS[case]], env)
    _assert_one_clean_line(result, 1)
    assert re.search(r"\((Binder|Conversion|Catalog)Exception\)", result.stderr), result.stderr


@pytest.mark.dbt
@pytest.mark.redteam
def test_a_csv_that_cannot_be_written_is_one_line(built_project: Project, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    env = {k: v for k, v in built_project.dbt_env().items() if k not in ("TAGLAKE_TARGET", "DBT_TARGET")}
    args = ["query", "--sql", "select 1 as n", "--csv", str(tmp_path / "file" / f"{PLANTED}.csv")]
    _assert_one_clean_line(_taglake(args, env), 1)


def _raises_a_builtin_error_inside(text: str) -> int:
    return int(text)  # int() quotes its input in its message


@pytest.mark.redteam
def test_an_error_the_project_did_not_write_is_reported_by_its_class_only() -> None:
    from taglake.core.errors import describe

    with pytest.raises(ValueError) as builtin:
        _raises_a_builtin_error_inside(PLANTED)
    line = describe(builtin.value, "query")
    assert PLANTED not in line and "ValueError" in line and "\n" not in line
    import yaml

    with pytest.raises(yaml.YAMLError) as parsed:
        yaml.safe_load(f"national_id: [{PLANTED}\nname: x")
    line = describe(parsed.value, "dbt")
    assert PLANTED not in line and "YAML" in line
