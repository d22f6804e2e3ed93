"""What a benchmarked daily run's day holds. Most feeds land every day; the sparse ones (the model scores on the 1st of
a month, their outcomes a week later) land on a few days only, and their models then process a whole month's run
of rows. A run reads a sparse feed's partition on the day it lands and again while it is within the run's lookback:
the window starts at the day after the feed's newest partition or at the run's newest landing day (the day before
the run's own) minus `late_arrival_lookback_days`, whichever is earlier (macros/incremental/landing_window.sql,
window_from_newest). A day that reads no sparse partition is an ordinary day.

With the daily runner's raw file ledger (taglake.ops.run_ledger), which `taglake bench build` keeps as
`taglake run-daily` does, a partition whose files did not change since the day before is not read again: the days
a generated lake gains re-read nothing, so a sparse feed is read on the day it lands only.
"""

from __future__ import annotations

from taglake.lake.feeds.table_gen import TableGen
from taglake.lake.generate import generators
from taglake.lake.params import LakeParams

ORDINARY = "ordinary"


def sparse_tables() -> tuple[TableGen, ...]:
    """The generators of the feeds that do not land every day (they decide their own partitions)."""
    return tuple(gen for gen in generators() if type(gen).has_partition is not TableGen.has_partition)


def sparse_reads(params: LakeParams, day: int, lookback: int, *, ledger: bool = False) -> dict[str, str]:
    """Per sparse feed a run on day index `day` reads: 'lands' (its partition of that day) or 're-read' (a
    partition landed within the lookback before it; never with the `ledger`: the partition did not change)."""
    if lookback < 0:
        raise ValueError("late_arrival_lookback_days (dbt_project.yml): not negative")
    reads: dict[str, str] = {}
    for gen in sparse_tables():
        if gen.has_partition(params, day):
            reads[gen.table_name] = "lands"
        elif not ledger and any(
            gen.has_partition(params, earlier) for earlier in range(max(day - 1 - lookback, 0), day)
        ):
            reads[gen.table_name] = "re-read"
    return reads


def day_kind(params: LakeParams, day: int, lookback: int, *, ledger: bool = False) -> str:
    """`ordinary`, or which sparse feeds the day's run reads and how (e.g. 'ml.model_scores lands')."""
    reads = sparse_reads(params, day, lookback, ledger=ledger)
    return ", ".join(f"{table} {how}" for table, how in reads.items()) or ORDINARY
