"""The SQL that makes feed variants load compiles for every engine: full-width numerals are translated before
every cast, and a JSON line loses its byte-order mark and carriage return before it is parsed, on Athena and
Redshift as on DuckDB (their text SerDes keep both)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.redteam

BOM = "\ufeff"


@pytest.mark.parametrize("target", ["athena", "redshift"])
def test_casts_of_raw_text_read_fullwidth_numerals_on_every_engine(aws_compiled, target: str) -> None:
    sql = aws_compiled(target).nodes["model.taglake.base_core_banking__accounts"].sql
    casts = sql.count("try_cast(")
    assert casts > 0
    assert sql.count("translate(") == casts
    assert "'０１２３４５６７８９＋－．，：', '0123456789+-.,:'" in sql


@pytest.mark.parametrize(("target", "bom"), [("athena", "chr(65279)"), ("redshift", f"'{BOM}'")])
def test_json_lines_lose_bom_and_carriage_return_before_parsing_on_every_engine(
    aws_compiled, target: str, bom: str
) -> None:
    sql = aws_compiled(target).nodes["model.taglake.base_digital__app_events"].sql
    lines = sql[sql.index("lines as (") : sql.index("validated as (")]
    assert bom in lines and "chr(13)" in lines
    assert "source.raw_line as raw_line" not in lines
    # what is parsed and validated is that cleaned line, not the raw one
    parsed = sql[sql.index("validated as (") : sql.index("checked as (")]
    assert "lines.raw_line" in parsed and "validated.raw_line" in parsed and "source.raw_line" not in parsed


def test_the_completeness_mart_compiles_on_every_engine(aws_compiled) -> None:
    for target in ("athena", "redshift"):
        sql = aws_compiled(target).nodes["model.taglake.fct_feed_completeness_daily"].sql
        assert "'cards.transactions' as source_table" in sql
        assert "'digital.app_events' as source_table" in sql
        assert "'crm.customers'" not in sql
