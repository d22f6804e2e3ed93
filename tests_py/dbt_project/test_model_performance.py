"""agg_model_performance_monthly on the session's built lake, against the same measures computed in plain Python from
the raw files (tests_py/raw_lake.py): the built mart must agree with a computation that shares none of its SQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import duckdb
import pytest
from raw_lake import clean_values, rank_auc

from taglake.core.project import Project
from taglake.lake.raw_tables import MODEL_OUTCOMES, MODEL_SCORES

pytestmark = [pytest.mark.model_performance, pytest.mark.dbt]

Cell = tuple[str, str, date]  # model, version, month


def _python_cells(project: Project) -> dict[Cell, list[tuple[float, int, str]]]:
    """(score, label, customer) of every customer a month's run scored and whose outcome landed, per cell."""
    scores = {
        (r["national_id"], r["model_name"], r["scored_at"].date().replace(day=1)): (r["model_version"], r["score"])
        for r in clean_values(project.lake_dir, MODEL_SCORES)
    }
    outcomes = {
        (r["national_id"], r["model_name"], r["outcome_month"]): r["label"]
        for r in clean_values(project.lake_dir, MODEL_OUTCOMES)
    }
    cells: dict[Cell, list[tuple[float, int, str]]] = defaultdict(list)
    for key, label in outcomes.items():
        if key in scores:
            version, score = scores[key]
            cells[(key[1], version, key[2])].append((score, label, key[0]))
    return cells


def _mart(project: Project) -> dict[Cell, tuple]:
    with duckdb.connect(str(project.duckdb_path), read_only=True) as con:
        rows = con.execute(
            "select model_name, model_version, outcome_month, customer_count, positive_count, negative_count, "
            "auc, top_decile_count, top_decile_positive_count, top_decile_lift, positive_rate "
            "from taglake_marts.agg_model_performance_monthly"
        ).fetchall()
    return {(r[0], r[1], r[2]): r[3:] for r in rows}


def test_the_auc_and_counts_agree_with_a_rank_auc_computed_in_python(built_project: Project) -> None:
    cells, mart = _python_cells(built_project), _mart(built_project)
    assert set(mart) == set(cells) and mart
    for cell, judged in cells.items():
        customers, positives, negatives, auc, *_ = mart[cell]
        labels = [label for _, label, _ in judged]
        assert (customers, positives, negatives) == (len(judged), sum(labels), len(judged) - sum(labels)), cell
        assert auc == pytest.approx(rank_auc([(s, label) for s, label, _ in judged]), abs=1e-9), cell
        assert 0.5 < auc < 1, cell  # the synthetic outcomes follow the scores


def test_the_top_decile_lift_is_its_positive_rate_over_the_months(built_project: Project) -> None:
    cells, mart = _python_cells(built_project), _mart(built_project)
    for cell, judged in cells.items():
        *_, top_count, top_positives, lift, rate = mart[cell]
        ranked = sorted(judged, key=lambda j: (-j[0], j[2]))  # ntile(10): the first ceil(n / 10) by score
        top = ranked[: -(-len(ranked) // 10)]
        assert top_count == len(top), cell
        if ranked[len(top) - 1][0] != ranked[len(top)][0]:  # tied across the cut, the order of tokens decides
            assert top_positives == sum(label for _, label, _ in top), cell
        positives = sum(label for _, label, _ in judged)
        assert rate == pytest.approx(positives / len(judged), abs=1e-9)
        assert lift == pytest.approx((top_positives / top_count) / (positives / len(judged)), abs=1e-9), cell
        assert lift > 1, cell


def test_the_versions_differ_in_performance(built_project: Project) -> None:
    aucs = {cell: row[3] for cell, row in _mart(built_project).items()}
    assert len({round(a, 3) for a in aucs.values()}) > 1
