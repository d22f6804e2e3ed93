"""Feed variants (taglake.lake.feed_variants) and the pre-flight check (taglake.lake.preflight): a loadable variant
passes the check untouched in content; every other variant is one clear line naming the file (and the column or
partition), never a value, and `taglake build` stops on it before dbt runs."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from taglake.cli import main
from taglake.lake.generate import generate_lake
from taglake.privacy.keys import init_key
from taglake.lake import feed_variants as fv
from taglake.core.sources import source_tables
from taglake.lake.preflight import check_lake, csv_dialect

pytestmark = pytest.mark.redteam

LAKE = {"customers": 150, "days": 4, "seed": 5, "defect_rate": 0.05}
TODAY = date(2026, 11, 2)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("variants") / "lake"
    generate_lake(out, progress=False, **LAKE)
    return out


@pytest.fixture
def lake(generated: Path, tmp_path: Path) -> Path:
    """A private copy of the generated lake, free to be rewritten."""
    copy = tmp_path / "lake"
    shutil.copytree(generated, copy)
    yield copy
    for path in copy.rglob("*"):  # a mode-000 file must not outlive the test
        if path.is_file():
            os.chmod(path, 0o644)


def _problems(lake: Path) -> list[str]:
    return [str(p) for p in check_lake(lake, today=TODAY)]


def _files(lake: Path, table: str) -> list[Path]:
    return [p for _, p in fv.table_files(lake, source_tables()[table])]


def test_a_generated_lake_passes_the_preflight(lake: Path) -> None:
    assert _problems(lake) == []


def test_crlf_and_byte_order_mark_rewrite_every_line_and_pass_the_preflight(lake: Path) -> None:
    for table in ("crm.customers", "core_banking.accounts", "digital.app_events"):
        fv.crlf_line_endings(lake, table)
        fv.byte_order_mark(lake, table)
    for table in ("crm.customers", "digital.app_events"):
        for path in _files(lake, table):
            data = path.read_bytes()
            if data:
                assert data.startswith(fv.BOM)
                assert data.count(b"\n") == data.count(b"\r\n") > 0
    assert _problems(lake) == []
    manifest = json.loads((lake / "manifest.json").read_text(encoding="utf-8"))
    assert {v["reconciliation"] for v in manifest["feed_variants"]} == {"exact"}


def test_fullwidth_digits_rewrite_the_values_only(lake: Path) -> None:
    before = _files(lake, "core_banking.accounts")[0].read_text(encoding="utf-8")
    fv.fullwidth_digits(lake, "core_banking.accounts", ["balance_twd", "opened_date"])
    after = _files(lake, "core_banking.accounts")[0].read_text(encoding="utf-8")
    assert after != before and "．" in after and "－" in after
    # Back to ASCII, as NFKC (and the ascii_numerals macro) reads it, the file is what it was.
    assert after.translate({ord(c) + 0xFEE0: c for c in "0123456789+-.,:"}) == before
    assert _problems(lake) == []


def test_a_parquet_column_whose_type_changed_is_named_with_its_file(lake: Path) -> None:
    path = fv.parquet_column_type(lake, "cards.transactions", "amount", day=date(2026, 10, 30))
    amounts = {str(v) for v in pq.read_table(path)["amount"].to_pylist()}
    problems = _problems(lake)
    assert len(problems) == 1
    [line] = problems
    assert line.startswith(path.relative_to(lake).as_posix() + ": ")
    assert "column amount is string" in line and "declares decimal(18,2)" in line
    assert not any(amount in line for amount in amounts if len(amount) > 3)


def test_a_float_score_in_one_file_is_named(lake: Path) -> None:
    path = fv.parquet_column_type(lake, "ml.model_scores", "score", to_type=pa.float32())
    [line] = _problems(lake)
    assert path.name in line and "column score is float" in line


@pytest.mark.parametrize("kind", sorted(fv.BAD_PARTITIONS))
def test_an_out_of_range_partition_is_named_by_its_path(lake: Path, kind: str) -> None:
    path = fv.out_of_range_partition(lake, "cards.transactions", kind)
    problems = _problems(lake)
    assert len(problems) == 1, problems
    assert problems[0].startswith(path.relative_to(lake).as_posix() + ": ")


@pytest.mark.parametrize(
    ("table", "kind", "said"),
    [
        ("cards.transactions", "no_permission", "no read permission"),
        ("crm.customers", "no_permission", "no read permission"),
        ("cards.transactions", "truncated_parquet", "not a readable Parquet file"),
        ("crm.customers", "not_utf8", "not UTF-8"),
    ],
)
def test_an_unreadable_file_is_one_line_naming_it(lake: Path, table: str, kind: str, said: str) -> None:
    path = fv.unreadable_file(lake, table, kind, day=date(2026, 10, 28))
    problems = _problems(lake)
    assert len(problems) == 1, problems
    assert problems[0].startswith(path.relative_to(lake).as_posix() + ": ") and said in problems[0]


def test_an_empty_extract_of_a_daily_feed_names_the_table_and_the_day(lake: Path) -> None:
    fv.empty_extract(lake, "cards.transactions", date(2026, 10, 29))
    fv.empty_extract(lake, "digital.app_events", date(2026, 10, 30))
    problems = _problems(lake)
    assert len(problems) == 2
    assert "cards.transactions landed no rows on 2026-10-29" in problems[0]
    assert "digital.app_events landed no rows on 2026-10-30" in problems[1]


def test_a_header_only_change_extract_is_a_day_without_changes_but_a_zero_byte_one_is_broken(lake: Path) -> None:
    fv.empty_extract(lake, "crm.customers", date(2026, 10, 29))
    assert _problems(lake) == []
    path = fv.empty_extract(lake, "core_banking.accounts", date(2026, 10, 29), zero_bytes=True)
    [line] = _problems(lake)
    assert line.startswith(path.relative_to(lake).as_posix()) and "0-byte CSV" in line


def test_a_missing_day_of_a_daily_feed_is_named(lake: Path) -> None:
    shutil.rmtree(lake / "raw" / "digital" / "app_events" / "year=2026" / "month=10" / "day=29")
    [line] = _problems(lake)
    assert "digital.app_events has no file for 2026-10-29" in line


def test_a_file_outside_the_partition_layout_is_named(lake: Path) -> None:
    stray = lake / "raw" / "cards" / "transactions" / "year=2026" / "transactions_extra.parquet"
    shutil.copy2(_files(lake, "cards.transactions")[0], stray)
    [line] = _problems(lake)
    assert line.startswith(stray.relative_to(lake).as_posix()) and "never reads it" in line


def test_check_lake_prints_one_line_per_problem_and_exits_1(lake: Path, capsys) -> None:
    fv.out_of_range_partition(lake, "crm.customers", "non_numeric_year")
    fv.unreadable_file(lake, "cards.transactions", "truncated_parquet")
    assert main(["check-lake", "--lake", str(lake)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("taglake: ") for line in err)
    assert any("year=abcd" in line for line in err) and any("not a readable Parquet" in line for line in err)
    assert "nothing was built" in err[-1] and "Traceback" not in "".join(err)


def test_build_stops_before_dbt_on_a_bad_lake(lake: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    fv.out_of_range_partition(lake, "cards.transactions", "month_13")
    target = tmp_path / "target"
    monkeypatch.setenv("TAGLAKE_LAKE_DIR", str(lake))
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    monkeypatch.setenv("TAGLAKE_DUCKDB_PATH", str(tmp_path / "taglake.duckdb"))
    monkeypatch.setenv("TAGLAKE_KEY_FILE", str(tmp_path / "secrets" / "masking_keys.csv"))
    monkeypatch.delenv("TAGLAKE_TARGET", raising=False)
    init_key(tmp_path / "secrets" / "masking_keys.csv")  # the key is checked first; this test is about the lake
    assert main(["build"]) == 1
    err = capsys.readouterr().err
    assert "month=13" in err and "not a calendar date" in err and "Traceback" not in err
    assert not target.exists()  # dbt never ran


# --- CSV structure: what the reader cannot load row by row (a quote that never closes, a ragged row) ---------------
CANARY_NAME = "Zyxwvq Canaryname"  # a value that must never reach a message


def _hand_written_customers(lake: Path, lines: list[str]) -> Path:
    """The newest CRM extract replaced by a tiny hand-written one: the declared header, then `lines` (line 2 on)."""
    header = ",".join(c.name for c in source_tables()["crm.customers"].file_fields)
    path = _files(lake, "crm.customers")[-1]
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8", newline="")
    return path


def _row(**changes: str) -> str:
    values = {c.name: "x" for c in source_tables()["crm.customers"].file_fields}
    values.update(changes)
    return ",".join(values.values())


def test_a_quote_that_never_closes_is_one_line_naming_the_file_and_the_line(lake: Path) -> None:
    path = _hand_written_customers(lake, [_row(), _row(), _row(name_zh=f'"{CANARY_NAME}')])
    [line] = _problems(lake)
    assert line.startswith(f"{path.relative_to(lake).as_posix()}: line 4: a quote opens and never closes")
    assert "re-deliver" in line and CANARY_NAME.lower() not in line.lower()


def test_a_quote_that_closes_lines_later_inside_a_field_names_the_line_it_opens(lake: Path) -> None:
    path = _hand_written_customers(lake, [_row(name_zh=f'"{CANARY_NAME}'), _row(), _row(gender='M"x')])
    [line] = _problems(lake)
    assert line.startswith(f"{path.relative_to(lake).as_posix()}: line 2: a quote opens and does not close")
    assert CANARY_NAME.lower() not in line.lower()


def test_a_quote_that_runs_on_into_a_record_of_the_wrong_width_is_named(lake: Path) -> None:
    path = _hand_written_customers(lake, [_row(name_zh=f'"{CANARY_NAME}'), _row(), _row(gender='M"')])
    [line] = _problems(lake)
    assert line.startswith(f"{path.relative_to(lake).as_posix()}: line 2: a quote opens and never closes on its line")
    assert "runs on to line 4" in line and CANARY_NAME.lower() not in line.lower()


def test_ragged_rows_are_named_with_the_first_line_and_counted(lake: Path) -> None:
    width = len(source_tables()["crm.customers"].file_fields)
    path = _hand_written_customers(lake, [_row(), f"x,{CANARY_NAME}", _row(), _row() + f",{CANARY_NAME}"])
    [line] = _problems(lake)
    assert line.startswith(f"{path.relative_to(lake).as_posix()}: line 3: a row with 2 fields where the header has")
    assert f"has {width} (and 1 more such row(s))" in line and CANARY_NAME.lower() not in line.lower()


def test_quoted_values_with_delimiters_line_breaks_and_doubled_quotes_pass(lake: Path) -> None:
    _hand_written_customers(
        lake,
        [
            _row(address='"No. 1, Lane 2"'),
            _row(address='"a value over\ntwo lines"'),
            _row(address='"a ""quoted"" word"'),
            "",  # a blank line is no record
            _row(),
        ],
    )
    assert _problems(lake) == []


def test_the_csv_check_reads_the_dialect_the_source_yaml_declares() -> None:
    table = source_tables()["crm.customers"]
    options = dict(table.format_options)
    dialect = csv_dialect(table)
    assert (dialect["delimiter"], dialect["quotechar"]) == (options["delimiter"], options["quote"])
    assert dialect["escapechar"] == options["escape"] and dialect["strict"] is True
