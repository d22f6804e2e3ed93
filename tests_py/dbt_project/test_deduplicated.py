"""macros/engines/deduplicate.sql: `deduplicated(..., few_repeated=true)` on DuckDB (the repeated keys found by a
hash grouping, only their rows ranked) keeps exactly the rows the plain window keeps, for a list key with a null
part, keys repeated two and three times, single keys, and a row the relation's own filter leaves out; and the
relation it reads three times is read from its table each time, not copied whole into a materialized CTE.

A tiny dbt project of its own holding the project's macro files (deduplicate.sql, repeated_keys.sql,
cte_inlining.sql)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from tiny_dbt_project import DATABASE, run_dbt, tiny_project

pytestmark = pytest.mark.dbt

# (k1, k2, o, v, keep): the key is (k1, k2), the first row by o is kept; `keep` is the relation's own filter.
ROWS: list[tuple[str | None, str, int, str, bool]] = [
    ("a", "x", 2, "a-second", True),
    ("a", "x", 1, "a-first", True),
    ("a", "x", 3, "a-third", True),
    ("b", "x", 5, "b-only", True),
    ("b", "y", 2, "by-late", True),
    ("b", "y", 1, "by-early", True),
    (None, "x", 2, "null-second", True),
    (None, "x", 1, "null-first", True),
    ("c", "z", 1, "c-only", True),
    ("d", "w", 0, "d-filtered-out", False),
    ("d", "w", 1, "d-kept", True),
]

MODEL = """{{{{ config(materialized='table') }}}}
with

filtered as {{{{ not_materialized() }}}} (
    select * from {{{{ ref('src') }}}}
    where keep
),

first_rows as (
    {{{{ deduplicated('filtered', ['k1', 'k2'], '{order}', few_repeated={few}) }}}}
)

select k1, k2, o, v, dedup_rank from first_rows
"""


def _project(folder: Path) -> Path:
    values = ", ".join(
        f"({'null' if k1 is None else repr(k1)}, '{k2}', {o}, '{v}', {str(keep).lower()})"
        for k1, k2, o, v, keep in ROWS
    )
    models = {
        "src": f"{{{{ config(materialized='table') }}}}\nselect * from (values {values}) as t(k1, k2, o, v, keep)"
    }
    for order in ("asc", "desc"):
        for few in ("true", "false"):
            models[f"dedup_{order}_{'few' if few == 'true' else 'window'}"] = MODEL.format(order=f"o {order}", few=few)
    return tiny_project(
        folder,
        macros=["engines/deduplicate.sql", "engines/repeated_keys.sql", "engines/cte_inlining.sql"],
        models=models,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = _project(tmp_path_factory.mktemp("deduplicated") / "project")
    result = run_dbt(folder, "run")
    assert result.returncode == 0, result.stdout[-3000:]
    return folder


def _rows(folder: Path, model: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(folder / DATABASE), read_only=True) as con:
        return sorted(con.execute(f"select k1, k2, o, v, dedup_rank from main.{model}").fetchall(), key=str)


def _expected(order: str) -> list[tuple[object, ...]]:
    first: dict[tuple[str | None, str], tuple[str | None, str, int, str, bool]] = {}
    for row in ROWS:
        if not row[4]:
            continue
        kept = first.get((row[0], row[1]))
        if kept is None or (row[2] < kept[2] if order == "asc" else row[2] > kept[2]):
            first[(row[0], row[1])] = row
    return sorted(((k1, k2, o, v, 1) for k1, k2, o, v, _ in first.values()), key=str)


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_few_repeated_keeps_what_the_window_keeps(built: Path, order: str) -> None:
    expected = _expected(order)
    assert len(expected) == 6  # a/x, b/x, b/y, null/x, c/z, d/w
    assert _rows(built, f"dedup_{order}_window") == expected
    assert _rows(built, f"dedup_{order}_few") == expected


def _compiled(folder: Path, model: str) -> str:
    return next((folder / "target" / "compiled").rglob(f"{model}.sql")).read_text(encoding="utf-8")


def test_duckdb_ranks_the_repeated_keys_only(built: Path) -> None:
    few, window = _compiled(built, "dedup_asc_few"), _compiled(built, "dedup_asc_window")
    assert "dedup_repeated" in few and "having count(*) > 1" in few
    assert "dedup_repeated" not in window and window.count("row_number()") == 1


def test_the_relation_is_read_from_its_table_not_held(built: Path) -> None:
    with duckdb.connect(str(built / DATABASE), read_only=True) as con:
        plan = con.execute("explain " + _compiled(built, "dedup_asc_few")).fetchall()[0][1]
    # the only CTE DuckDB materializes is the small set of repeated key hashes; `filtered` is inlined in each read
    names = set(re.findall(r"CTE Name:\s*│\s*│\s*(\w+)", plan))
    assert names == {"dedup_repeated"}, plan
    assert plan.count("SEQ_SCAN") + plan.count("TABLE_SCAN") == 3, plan
