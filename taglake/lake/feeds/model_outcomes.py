"""ml.model_outcomes: what happened to the customers a scoring run scored, a week after the run.

Each outcome is drawn from the customer's clean score in that run, so the scores predict it: the label is 1 with
probability `strength · score + (1 − strength) · noise / 2`, the strength a fixed function of the model version. A
better version (a higher strength) ranks the customers who turn positive higher, so its AUC is higher; every
version's AUC is above 0.5.
"""

from __future__ import annotations

from taglake.lake import reference as ref
from taglake.lake.feeds.model_scores import ModelScoresGen, model_version
from taglake.lake.feeds.table_gen import TableGen
from taglake.lake.params import LakeParams
from taglake.lake.sqlrand import below, lit, pick, uniform

OUTCOME_LAG_DAYS = 7  # outcomes land this many days after the scoring run they judge


def outcome_lag(p: LakeParams) -> int:
    """Days from a scoring run to its outcomes: a week, or fewer when the planned history is shorter, so that every
    lake holds outcomes (the first run's land inside it). A function of the planned days only: appending days never
    moves a file already written."""
    return min(OUTCOME_LAG_DAYS, p.days - 1)
# observed labels that broke the 0/1 contract: a count, a negative flag, a percentage
OUT_OF_RANGE_LABELS: tuple[int, ...] = (2, -1, 100, 9)


def version_strength(version: str) -> float:
    """How much of a version's outcome its score explains, in [0.35, 0.95]: a fixed function of the version."""
    major, minor, patch = (int(p) for p in version.split("."))
    return 0.35 + 0.1 * ((major * 5 + minor * 3 + patch * 2) % 7)


class ModelOutcomesGen(TableGen):
    table_name = "ml.model_outcomes"
    injected = ("missing_required", "label_out_of_range", "exact_duplicate")
    order_by = ("model_name", "national_id", "outcome_month")

    def has_partition(self, p: LakeParams, day: int) -> bool:
        return day - outcome_lag(p) in p.scoring_days

    def clean_sql(self, p: LakeParams, day: int) -> str:
        s, run_day = p.seed, day - outcome_lag(p)
        on = p.date_of(run_day)
        month = on.replace(day=1)
        strength = " ".join(
            f"when {lit(m)} then {version_strength(model_version(m, on))!r}" for m in ref.MODEL_NAMES
        )
        u = lambda salt: uniform(s, "_uid", str(p.dn(run_day)), lit(salt))  # noqa: E731
        return f"""
        select
            national_id,
            model_name,
            date '{month.isoformat()}' as outcome_month,
            (case when {u("label")} < _w * score + (1 - _w) * 0.5 * {u("noise")} then 1 else 0 end)::int as label,
            _uid,
            true as _first
        from (
            select *, case model_name {strength} end as _w
            from ({ModelScoresGen().clean_sql(p, run_day)})
        )
        """

    def extras_sql(self, p: LakeParams, day: int, src: str) -> str:
        s = p.seed
        required = self.spec.required

        bad_label = f"{pick([str(v) for v in OUT_OF_RANGE_LABELS], uniform(s, '_uid', lit('badlabel')))}::int"
        label = f"case when _src_kind = 'label_out_of_range' then {bad_label} else label end"
        # a month stamped with the day the outcome was recorded: a key (outcome_month) no clean record has
        recorded = f"outcome_month + (1 + {below(s, 27, '_uid', lit('recorded'))})::int"
        return f"""
        select
            {self.missing_or("national_id", "national_id")} as national_id,
            {self.missing_or("model_name", "model_name")} as model_name,
            {self.missing_or("outcome_month", recorded)} as outcome_month,
            {self.missing_or("label", label)} as label
        from (
            select *, {below(s, len(required), "_uid", lit("misscol"))} as _mc
            from {src}
            where _src_kind in ('missing_required', 'label_out_of_range')
        )
        """
