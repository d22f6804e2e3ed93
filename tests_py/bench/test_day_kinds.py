"""What a benchmarked day's window reads: the sparse feeds (scores on the 1st of a month, outcomes a week later)
landing that day or re-read within the lookback, else an ordinary day."""

from __future__ import annotations

from datetime import date

import pytest

from taglake.bench.day_kinds import ORDINARY, day_kind, sparse_reads, sparse_tables
from taglake.lake.params import LakeParams


def _params(appended: int) -> LakeParams:
    return LakeParams(
        seed=42, customers=1_000, days=365, end_date=date(2026, 10, 31), defect_rate=0.01, appended_days=appended
    )


def test_the_sparse_feeds_are_the_scores_and_their_outcomes() -> None:
    assert sorted(gen.table_name for gen in sparse_tables()) == ["ml.model_outcomes", "ml.model_scores"]


def test_the_days_after_a_year_end_on_october_31st_with_a_three_day_lookback() -> None:
    p = _params(12)
    kinds = {p.date_of(day).isoformat(): day_kind(p, day, 3) for day in range(365, 377)}
    assert kinds == {
        "2026-11-01": "ml.model_scores lands",
        # the run of day D starts its window at min(newest + 1, D - 1 - lookback): the 1st stays in it to the 5th
        "2026-11-02": "ml.model_scores re-read",
        "2026-11-03": "ml.model_scores re-read",
        "2026-11-04": "ml.model_scores re-read",
        "2026-11-05": "ml.model_scores re-read",
        "2026-11-06": ORDINARY,
        "2026-11-07": ORDINARY,
        "2026-11-08": "ml.model_outcomes lands",
        "2026-11-09": "ml.model_outcomes re-read",
        "2026-11-10": "ml.model_outcomes re-read",
        "2026-11-11": "ml.model_outcomes re-read",
        "2026-11-12": "ml.model_outcomes re-read",
    }


def test_without_a_lookback_the_window_still_starts_at_the_run_before_and_a_negative_one_is_refused() -> None:
    p = _params(3)
    assert sparse_reads(p, 365, 0) == {"ml.model_scores": "lands"}
    # the window of day D starts at the newest day the run before held (D - 1) at the latest
    assert sparse_reads(p, 366, 0) == {"ml.model_scores": "re-read"}
    assert day_kind(p, 367, 0) == ORDINARY
    with pytest.raises(ValueError, match="late_arrival_lookback_days"):
        sparse_reads(p, 366, -1)


def test_with_the_raw_file_ledger_a_sparse_feed_is_read_on_the_day_it_lands_only() -> None:
    p = _params(12)
    kinds = {p.date_of(day).day: day_kind(p, day, 3, ledger=True) for day in range(365, 377)}
    assert kinds == dict.fromkeys(range(1, 13), ORDINARY) | {
        1: "ml.model_scores lands",
        8: "ml.model_outcomes lands",
    }
