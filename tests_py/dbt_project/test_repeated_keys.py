"""macros/engines/repeated_keys.sql: on DuckDB the uniqueness tests — dbt's `unique` (the project's
duckdb__test_unique, picked by dispatch over dbt's default) and the project's `unique_combination_of_columns` —
group a 64-bit hash of the key first and then only the rows whose hash repeats; they fail and pass exactly as the
plain grouping does, with the same rows: a key held two and three times, null keys (`unique` ignores them, a
composite key counts a null part like any value), keys held once.

A tiny dbt project of its own holding the project's macro files (repeated_keys.sql, run_window.sql: no window
here, so every test reads its whole model) and generic test."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from tiny_dbt_project import DATABASE, run_dbt, tiny_project

pytestmark = pytest.mark.dbt

# (id, other_id, k1, k2): id repeats (a ×2, b ×3, null ×2), other_id is unique (nulls aside), (k1, k2) repeats twice,
# once with a null part; (other_id, k1) is unique.
ROWS: list[tuple[str | None, str | None, str | None, int]] = [
    ("a", "u1", "x", 1),
    ("a", "u2", "x", 1),
    ("b", "u3", "y", 1),
    ("b", "u4", None, 2),
    ("b", "u5", None, 2),
    (None, None, "z", 3),
    (None, None, "v", 4),
    ("c", "u6", "w", 5),
    ("d", "u7", "w", 6),
]

SCHEMA = """models:
  - name: keyed
    columns:
      - name: id
        data_tests: [unique]
      - name: other_id
        data_tests: [unique]
    data_tests:
      - unique_combination_of_columns:
          arguments: {combination_of_columns: [k1, k2]}
      - unique_combination_of_columns:
          arguments: {combination_of_columns: [other_id, k1]}
"""


def _sql(value: str | int | None) -> str:
    return "null" if value is None else repr(value)


@pytest.fixture(scope="module")
def tested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int | None]]:
    values = ", ".join(f"({', '.join(_sql(v) for v in row)})" for row in ROWS)
    folder = tiny_project(
        tmp_path_factory.mktemp("repeated_keys") / "project",
        macros=["engines/repeated_keys.sql", "incremental/run_window.sql"],
        models={
            "keyed": "{{ config(materialized='table') }}\n"
            f"select * from (values {values}) as t(id, other_id, k1, k2)"
        },
        files={
            "models/_models.yml": SCHEMA,
            "tests/generic/unique_combination_of_columns.sql": (
                Path(__file__).parents[2] / "tests" / "generic" / "unique_combination_of_columns.sql"
            ).read_text(encoding="utf-8"),
        },
        project_yml="test-paths: [tests]\n",
    )
    run = run_dbt(folder, "run")
    assert run.returncode == 0, run.stdout[-3000:]
    test = run_dbt(folder, "test")
    assert test.returncode == 1, test.stdout[-3000:]  # two of the four fail
    results = json.loads((folder / "target" / "run_results.json").read_text(encoding="utf-8"))["results"]
    return folder, {r["unique_id"].split(".")[2]: r["failures"] for r in results}


def _test_named(failures: dict[str, int | None], start: str) -> str:
    [name] = [n for n in failures if n.startswith(start)]
    return name


def _rows(folder: Path, test: str) -> list[tuple[object, ...]]:
    sql = next((folder / "target" / "compiled").rglob(f"{test}.sql")).read_text(encoding="utf-8")
    with duckdb.connect(str(folder / DATABASE), read_only=True) as con:
        return sorted(con.execute(sql).fetchall(), key=str)


def _repeated(keys: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    return sorted(((*key, n) for key, n in Counter(keys).items() if n > 1), key=str)


def test_unique_fails_with_the_plain_groupings_rows(tested: tuple[Path, dict[str, int | None]]) -> None:
    folder, failures = tested
    expected = [(key, n) for (key, n) in _repeated([(r[0],) for r in ROWS if r[0] is not None])]
    assert expected == [("a", 2), ("b", 3)]
    assert failures["unique_keyed_id"] == 2
    assert _rows(folder, "unique_keyed_id") == expected
    assert failures["unique_keyed_other_id"] == 0
    assert _rows(folder, "unique_keyed_other_id") == []


def test_a_composite_key_counts_a_null_part_like_the_plain_grouping(
    tested: tuple[Path, dict[str, int | None]],
) -> None:
    folder, failures = tested
    repeated = _test_named(failures, "unique_combination_of_columns_keyed_k1__k2")
    expected = _repeated([(r[2], r[3]) for r in ROWS])
    assert expected == [("x", 1, 2), (None, 2, 2)]
    assert failures[repeated] == 2
    assert _rows(folder, repeated) == expected
    held_once = _test_named(failures, "unique_combination_of_columns_keyed_other_id__k1")
    assert failures[held_once] == 0


def test_duckdb_groups_the_hash_first(tested: tuple[Path, dict[str, int | None]]) -> None:
    folder, failures = tested
    for test in failures:
        sql = next((folder / "target" / "compiled").rglob(f"{test}.sql")).read_text(encoding="utf-8")
        assert "repeated_key_hashes" in sql and "group by hash(" in sql, test
