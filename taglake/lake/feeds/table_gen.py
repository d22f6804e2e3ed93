"""How one raw table's partition is made: clean records, defects assigned to some of them, the file written.

For each table and landing day:

1. ``clean_sql`` gives the day's clean records (each a pure function of seed, params and day), with a unique
   ``_uid``.
2. Defects are assigned: the records are ranked by a seeded hash of ``_uid``; the first
   ``floor(defect_rate × records + u)`` of them become *sources*, and the kinds in ``injected`` are dealt to
   them in turn, so every defective record carries exactly one defect.
3. ``post_sql`` may alter a source in place (a late arrival gets an earlier business time).
4. The partition is the clean records, plus byte-identical copies of ``exact_duplicate`` sources (from this
   partition or up to ``max_dup_lag`` earlier ones), plus the extra records ``extras_sql`` derives from the
   other sources (quarantined records with keys no clean record has, and same-day earlier versions).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import duckdb

from taglake.lake.params import LakeParams
from taglake.lake.raw_tables import RawTable, raw_table
from taglake.lake.sqlrand import below, lit, lit_list, uniform


class TableGen:
    """One raw table's generator; subclasses supply the SQL."""

    table_name: ClassVar[str]  # the raw table, `source.table` as the source YAML names it
    injected: ClassVar[tuple[str, ...]]  # kinds dealt to defect sources (incl. 'same_day_version')
    max_dup_lag: ClassVar[int] = 0  # a duplicate lands up to this many partitions after its original
    order_by: ClassVar[tuple[str, ...]]  # leading sort columns of the file; the other columns follow
    day_meta: ClassVar[tuple[str, ...]] = ()  # meta columns the partition query keeps (for sorting)

    @property
    def spec(self) -> RawTable:
        return raw_table(self.table_name)

    def has_partition(self, p: LakeParams, day: int) -> bool:
        return True

    def file_columns(self, p: LakeParams, day: int) -> tuple[str, ...]:
        return self.spec.columns

    def clean_sql(self, p: LakeParams, day: int) -> str:
        raise NotImplementedError

    def post_sql(self, p: LakeParams, day: int, src: str) -> str:
        return f"select * from {src}"

    def extras_sql(self, p: LakeParams, day: int, src: str) -> str | None:
        return None

    def missing_or(self, col: str, value: str) -> str:
        """`value`, or null on a `missing_required` defect row whose blanked column (`_mc`, an index into the
        table's required columns) is `col`: how every feed's extras blank one required field."""
        pos = self.spec.required.index(col)
        return f"case when _src_kind = 'missing_required' and _mc = {pos} then null else {value} end"

    def dup_lag_limit(self, p: LakeParams, day: int) -> int:
        """Largest lag a duplicate of this day's records may take (it must land inside the history)."""
        return max(0, min(self.max_dup_lag, p.days - 1 - day))

    def order_sql(self, p: LakeParams, day: int) -> str:
        cols = self.file_columns(p, day)
        return ", ".join([*self.order_by, *(c for c in cols if c not in self.order_by)])

    # ---- the mechanics -------------------------------------------------------------------------------

    def clean_table(self, day: int) -> str:
        """Name of the temp table holding the day's clean records and their assigned defect kinds."""
        return f"clean_{self.spec.source}_{self.spec.table}_{day}"

    def build_clean(self, con: duckdb.DuckDBPyConnection, p: LakeParams, day: int) -> str:
        """Create the day's clean records with their assigned defect kinds; return the temp table's name."""
        s, dn = p.seed, p.dn(day)
        kinds = self.injected
        salt = lit(self.spec.name)
        frac = uniform(s, str(dn), salt, lit("frac"))
        koff = below(s, len(kinds), str(dn), salt, lit("koff"))
        lag = below(s, self.dup_lag_limit(p, day) + 1, "_uid", salt, lit("lag"))
        rate = float(p.defect_rate)
        assigned = f"""(
            select *,
                case when _rk < _m then {lit_list(kinds)}[((_rk + {koff}) % {len(kinds)}) + 1] end as _src_kind,
                {lag} as _dup_lag
            from (
                select *,
                    row_number() over (order by _u, _uid) - 1 as _rk,
                    floor({rate!r} * count(*) over () + {frac})::bigint as _m
                from (select *, {uniform(s, "_uid", salt, lit("defect"))} as _u from ({self.clean_sql(p, day)}))
            )
        )"""
        name = self.clean_table(day)
        con.execute(f"create or replace temp table {name} as {self.post_sql(p, day, assigned)}")
        return name

    def day_sql(self, p: LakeParams, day: int) -> str:
        """The partition's records: clean ones, duplicates landing today, and the extra (defective) ones."""
        cols = ", ".join([*self.file_columns(p, day), *self.day_meta])
        clean = self.clean_table(day)
        parts = [f"select {cols} from {clean}"]
        for lag, origin in self._dup_origins(p, day):
            parts.append(
                f"select {cols} from {self.clean_table(origin)}"
                f" where _src_kind = 'exact_duplicate' and _dup_lag = {lag}"
            )
        extras = self.extras_sql(p, day, clean)
        if extras:
            parts.append(f"select {cols} from ({extras})")
        return " union all by name ".join(parts)

    def _dup_origins(self, p: LakeParams, day: int) -> list[tuple[int, int]]:
        """(lag, origin day) of the earlier partitions whose duplicates may land on ``day``."""
        return [
            (lag, day - lag)
            for lag in range(0, self.max_dup_lag + 1)
            if day - lag >= 0 and lag <= self.dup_lag_limit(p, day - lag)
        ]

    def write_day(self, con: duckdb.DuckDBPyConnection, p: LakeParams, day: int, out_dir: Path) -> Path:
        """Write the partition's single file, its records in a fixed order; return the path."""
        d = p.date_of(day)
        folder = out_dir / self.spec.partition_dir(d)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.spec.file_name(d)
        query = (
            f"select {', '.join(self.file_columns(p, day))} from ({self.day_sql(p, day)})"
            f" order by {self.order_sql(p, day)}"
        )
        fmt = self.spec.format
        if fmt == "csv":
            options = "format csv, header true"
        elif fmt == "parquet":
            options = "format parquet, compression zstd"
        else:  # one prepared JSON text per line, written verbatim
            options = "format csv, header false, quote '', escape '', delimiter '\t'"
        con.execute(f"copy ({query}) to {lit(str(path))} ({options})")
        return path

    def day_counts(self, con: duckdb.DuckDBPyConnection, p: LakeParams, day: int) -> tuple[dict[str, int], int]:
        """Records per kind in the partition ('clean' for clean originals) and how many keys are new.

        Every source of an extra record yields exactly one, so the counts come from the clean tables.
        """
        clean = self.clean_table(day)
        extra_kinds = lit_list([k for k in self.injected if k not in ("exact_duplicate", "late_arrival")])
        parts = [
            f"select case when _src_kind = 'late_arrival' then 'late_arrival' else 'clean' end as kind,"
            f" _first::int as first from {clean}",
            f"select _src_kind, 0 from {clean} where list_contains({extra_kinds}, _src_kind)",
        ]
        for lag, origin in self._dup_origins(p, day):
            parts.append(
                f"select 'exact_duplicate', 0 from {self.clean_table(origin)}"
                f" where _src_kind = 'exact_duplicate' and _dup_lag = {lag}"
            )
        rows = con.execute(
            f"select kind, count(*), sum(first) from ({' union all '.join(parts)}) group by all"
        ).fetchall()
        counts = {kind: int(n) for kind, n, _ in rows}
        return counts, sum(int(f or 0) for _, _, f in rows)

    def drop_clean(self, con: duckdb.DuckDBPyConnection, day: int) -> None:
        con.execute(f"drop table if exists {self.clean_table(day)}")
