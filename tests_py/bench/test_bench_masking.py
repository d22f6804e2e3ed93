"""The masking benchmark: it measures every treatment and both builds, keeps no clear-text build behind, and its
masked build really holds tokens."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from taglake.bench.masking import format_masking_report, run_masking_benchmark
from taglake.bench.masking_build import build_order
from taglake.bench.masking_treatments import TREATMENTS
from taglake.core.project import Project
from taglake.lake.generate import generate_lake

EXPECTED_TREATMENTS = {
    "identity",
    "tokenize",
    "token_lookup_join",
    "mask_mobile",
    "mask_email",
    "address_city_district",
    "birth_year_age_band",
}


def test_build_order_alternates_which_mode_goes_first() -> None:
    assert build_order(2) == [(1, "masking"), (1, "identity"), (2, "identity"), (2, "masking")]


def test_every_treatment_is_benchmarked() -> None:
    assert {t.name for t in TREATMENTS} == EXPECTED_TREATMENTS


@pytest.mark.dbt
def test_masking_benchmark_measures_both_builds_and_deletes_the_identity_build(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    generate_lake(lake, customers=200, days=3, seed=11, progress=False)
    work = tmp_path / "work"
    out = tmp_path / "results" / "masking.json"

    result = run_masking_benchmark(
        Project.locate(), lake_dir=lake, rows=20_000, runs=1, build_runs=1, out_json=out, work_dir=work
    )

    written = json.loads(out.read_text(encoding="utf-8"))
    assert {t["treatment"] for t in written["treatments"]} == EXPECTED_TREATMENTS
    assert all(t["rows_per_second"] > 0 and t["ns_per_row"] > 0 for t in written["treatments"])
    assert written["machine"]["cores"] and written["machine"]["duckdb"]
    assert written["lake"]["params"]["customers"] == 200
    summary = written["builds"]["summary"]
    assert summary["masking"]["runs"] == 1 and summary["identity"]["runs"] == 1
    assert summary["ratio_wall"] > 0
    staging = {m["model"] for m in summary["models"] if m["layer"] == "staging"}
    assert "stg_crm__customers" in staging

    # The identity build wrote clear text: its database, target/ and logs/ are gone.
    assert not list(work.glob("identity-*")), list(work.rglob("*"))
    # The masked build is kept, and it holds tokens, not national IDs.
    masked = Path(result["builds"]["kept_masked_database"])
    assert masked.is_file()
    with duckdb.connect(str(masked), read_only=True) as con:
        tokens = con.sql(
            "select count(*), count(*) filter (where regexp_full_match(customer_token, '[0-9a-f]{64}')) "
            "from taglake_staging.stg_crm__customers where customer_token is not null"
        ).fetchone()
    assert tokens[0] > 0 and tokens[0] == tokens[1]

    report = format_masking_report(result)
    assert "tokenize" in report and "ratio masking/identity" in report
