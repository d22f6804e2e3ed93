"""ml.model_scores: each propensity model scores the active customers once a month."""

from __future__ import annotations

from datetime import date

from taglake.lake import reference as ref
from taglake.lake.feeds.table_gen import TableGen
from taglake.lake.params import LakeParams
from taglake.lake.sqlrand import below, lit, pick, uniform

_VERSION_EPOCH_YEAR = 2020


def model_version(model: str, on: date) -> str:
    """The model's semantic version in production on a date; each model ships on its own cadence."""
    m = max(0, (on.year - _VERSION_EPOCH_YEAR) * 12 + on.month - 1)
    if model == "churn_propensity":  # a patch every quarter, a minor twice a year, a major every two years
        return f"{1 + m // 24}.{(m % 24) // 6}.{(m % 6) // 3}"
    if model == "wealth_propensity":  # a minor every four months, a major every three years
        return f"{1 + m // 36}.{(m % 36) // 4}.0"
    if model == "card_upsell_propensity":  # a minor every two months, a major every eighteen months
        return f"{2 + m // 18}.{(m % 18) // 2}.0"
    raise ValueError(f"unknown model: {model!r}")


def scored_at_seconds(seed: int, model_index: int, dn: int) -> int:
    """Seconds after midnight (UTC) the model's batch run stamps its scores with."""
    return 3600 + 1800 * model_index + (seed * 7919 + model_index * 104729 + dn * 31) % 1200


class ModelScoresGen(TableGen):
    table_name = "ml.model_scores"
    injected = ("missing_required", "score_out_of_range", "exact_duplicate")
    order_by = ("model_name", "national_id", "scored_at")

    def has_partition(self, p: LakeParams, day: int) -> bool:
        return day in p.scoring_days

    def clean_sql(self, p: LakeParams, day: int) -> str:
        s, dn, on = p.seed, p.dn(day), p.date_of(day)
        runs = ", ".join(
            f"({n}, {lit(m)}, {lit(model_version(m, on))},"
            f" make_timestamp(({dn}::bigint * 86400 + {scored_at_seconds(s, n, dn)}) * 1000000))"
            for n, m in enumerate(ref.MODEL_NAMES)
        )
        u = lambda salt: uniform(s, "c.i", "m.midx", str(dn), lit(salt))  # noqa: E731
        score = f"""case m.midx
            when 0 then (case when c.close_dn - {dn} <= 120 then 0.55 + 0.45 * {u("s")}
                              else 0.6 * pow({u("s")}, 2.2) end)
            when 1 then (1 / (1 + exp(-(ln(c.wealth + 1) - 13) / 1.2))) * (0.7 + 0.3 * {u("s")})
            else (case when h.i is null then 0.2 + 0.8 * pow({u("s")}, 1.5) else 0.4 * pow({u("s")}, 3) end)
        end"""
        return f"""
        select
            c.nid as national_id,
            m.model_name,
            m.model_version,
            m.scored_at,
            round({score}, 6)::double as score,
            c.nid || '|' || m.model_name as _uid,
            true as _first
        from pop_customers c
        cross join (values {runs}) as m(midx, model_name, model_version, scored_at)
        left join (select distinct i from pop_cards where open_dn <= {dn} and {dn} < close_dn) h on h.i = c.i
        where c.join_dn <= {dn} and {dn} < c.close_dn
        """

    def extras_sql(self, p: LakeParams, day: int, src: str) -> str:
        s = p.seed
        required = self.spec.required

        bad_score = f"{pick([str(v) for v in ref.OUT_OF_RANGE_SCORES], uniform(s, '_uid', lit('badscore')))}::double"
        score = f"case when _src_kind = 'score_out_of_range' then {bad_score} else score end"
        # a re-run stamped a little later: a key (scored_at) no clean record has
        rerun = f"scored_at + to_seconds(1 + {below(s, 3599, '_uid', lit('rerun'))})"
        return f"""
        select
            {self.missing_or("national_id", "national_id")} as national_id,
            {self.missing_or("model_name", "model_name")} as model_name,
            {self.missing_or("model_version", "model_version")} as model_version,
            {self.missing_or("scored_at", rerun)} as scored_at,
            {self.missing_or("score", score)} as score
        from (
            select *, {below(s, len(required), "_uid", lit("misscol"))} as _mc
            from {src}
            where _src_kind in ('missing_required', 'score_out_of_range')
        )
        """
