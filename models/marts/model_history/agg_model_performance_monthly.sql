-- Performance of each model version per month against the outcomes (ml.model_outcomes): the customers the month's
-- scoring run scored and whose outcome is known, the positives among them, the AUC in its rank (Mann-Whitney) form
-- and the lift of the top score decile. AUC = (R+ − P·(P+1)/2) / (P·N), R+ the sum of the positives' ranks by
-- ascending score (tied scores share their average rank), P and N the positives and negatives. Ratios are rounded to
-- 9 decimals so that a re-run gives the same table (a parallel floating-point sum depends on its order).
-- landed_through: the newest landing date of the scores and outcomes a row measures.
-- Incremental by group (docs/daily-runs.md): a run recomputes, from all of their scores and outcomes, the model-months
-- a score or an outcome landed from landing_window_start('landed_through') on falls in, and replaces them whole (every
-- version: a month scored again with a new version drops the old version's row, as a full build does). It reads the
-- scores and outcomes from the first of the earliest such month on (month_floor_landed_since), not all of them, and
-- up to the newest month an outcome is held for: a month whose scores landed before any of its outcomes gives no row
-- yet (a row needs both), so it is not recomputed until its outcomes land — the days between a scoring run and its
-- outcomes read nothing.
-- Every row is computed from one month's scores and outcomes (the month is in every key, join and partition below):
-- on DuckDB a full build is one statement per month (month_part, macros/engines/month_parts.sql), each holding one
-- month's rows, where one statement over all of them spills to disk at the large scale.
{{ config(**group_replace_incremental(['model_name', 'outcome_month'])) }}
{%- set since = landing_window_start('landed_through') %}
{%- set score_floor = month_floor_landed_since(ref('stg_ml__model_scores'), 'scored_at', since) %}
{%- set outcome_floor = month_floor_landed_since(ref('stg_ml__model_outcomes'), 'outcome_month', since) %}
{%- set floors = [score_floor, outcome_floor] | select | map(attribute=1) | list %}
{%- set floor = floors | min if floors else none %}
{#- `ceiling`: the first day after the newest month holding an outcome (the floor when none is held: no month then) -#}
{%- set ceiling = none %}
{%- if floor is not none %}
{%- set newest_sql = 'select max(outcome_month) from ' ~ ref('stg_ml__model_outcomes') %}
{%- set newest = run_query(newest_sql).columns[0].values()[0] %}
{%- if newest is none %}
{%- set ceiling = floor %}
{%- else %}
{%- set newest = modules.datetime.date.fromisoformat((newest | string)[:10]) %}
{%- set ceiling = (newest.replace(day=1) + modules.datetime.timedelta(days=32)).replace(day=1) %}
{%- endif %}
{%- endif %}

with

-- scores_all and outcomes_all are read twice in a daily run (touched, then the touched months): not materialized,
-- as touched_groups (macros/incremental/landing_window.sql) says why.
scores_all as {{ not_materialized() }} (
    select
        customer_token,
        model_name,
        model_version,
        score,
        scored_at,
        landing_date,
        cast({{ dbt.date_trunc('month', 'scored_at') }} as date) as outcome_month
    from {{ ref('stg_ml__model_scores') }}
    where {{ month_part('scored_at', ref('stg_ml__model_scores')) }}
),

outcomes_all as {{ not_materialized() }} (
    select * from {{ ref('stg_ml__model_outcomes') }}
    where {{ month_part('outcome_month', ref('stg_ml__model_outcomes')) }}
),

{%- if since %}

touched as (
    select
        model_name,
        outcome_month
    from scores_all
    where
        {{ landed_since(since) }}
        {%- if ceiling %}
        and scored_at < cast('{{ ceiling.isoformat() }}' as timestamp)
        {%- endif %}
    union
    select
        model_name,
        outcome_month
    from outcomes_all
    where
        {{ landed_since(since) }}
        {%- if ceiling %}
        and outcome_month < cast('{{ ceiling.isoformat() }}' as date)
        {%- endif %}
),

{# Every touched month is on or after `floor` and before `ceiling`: constant filters the scan applies before the join
    (the month of a score is computed from scored_at, which the join cannot push down); when the floor is not before
    the ceiling they contradict each other and the engine reads nothing. #}
scores_dated as {{ not_materialized() }} (
    select scores_all.*
    from scores_all
    inner join touched
        on scores_all.model_name = touched.model_name and scores_all.outcome_month = touched.outcome_month
    {%- if floor %}
    where
        scores_all.scored_at >= cast('{{ floor.isoformat() }}' as timestamp)
        and scores_all.scored_at < cast('{{ ceiling.isoformat() }}' as timestamp)
    {%- endif %}
),

outcomes as (
    select outcomes_all.*
    from outcomes_all
    inner join touched
        on outcomes_all.model_name = touched.model_name and outcomes_all.outcome_month = touched.outcome_month
    {%- if floor %}
    where
        {{ landed_since(floor, 'outcomes_all.outcome_month') }}
        and outcomes_all.outcome_month < cast('{{ ceiling.isoformat() }}' as date)
    {%- endif %}
),
{%- else %}

scores_dated as {{ not_materialized() }} (
    select * from scores_all
),

outcomes as (
    select * from outcomes_all
),
{%- endif %}

-- the month's last run, should a run have been repeated (rarely: most keys hold one score, so few are ranked)
monthly_scores as (
    {{ deduplicated('scores_dated', ['customer_token', 'model_name', 'outcome_month'],
                    'scored_at desc, model_version desc', few_repeated=true) }}
),

judged as (
    select
        monthly_scores.model_name,
        monthly_scores.model_version,
        monthly_scores.outcome_month,
        monthly_scores.customer_token,
        monthly_scores.score,
        outcomes.label,
        greatest(monthly_scores.landing_date, outcomes.landing_date) as landed_through
    from monthly_scores
    inner join outcomes
        on
            monthly_scores.customer_token = outcomes.customer_token
            and monthly_scores.model_name = outcomes.model_name
            and monthly_scores.outcome_month = outcomes.outcome_month
),

-- one row per score of a model-month: the customers holding it and the positives among them. The ranks and the
-- decile cut are taken over these groups, not over every customer: one sort of the scores instead of three window
-- sorts of every row (rank, count of ties, ntile), the costliest part of this model on a large lake. Scores are never
-- null (stg_ml__model_scores' not_null check).
score_groups as (
    select
        model_name,
        model_version,
        outcome_month,
        score,
        count(*) as tied_count,
        sum(label) as positive_count,
        max(landed_through) as landed_through
    from judged
    group by model_name, model_version, outcome_month, score
),

-- lower_count: the customers scored below this score (the rank of its first customer, less one); higher_count: above
placed as (
    select
        model_name,
        model_version,
        outcome_month,
        score,
        tied_count,
        positive_count,
        landed_through,
        customer_count,
        lower_count,
        customer_count - lower_count - tied_count as higher_count
    from (
        select
            *,
            coalesce(sum(tied_count) over (
                partition by model_name, model_version, outcome_month order by score asc
                rows between unbounded preceding and 1 preceding
            ), 0) as lower_count,
            sum(tied_count) over (partition by model_name, model_version, outcome_month) as customer_count
        from score_groups
    ) as summed
),

-- The top decile is ntile(10)'s first tile over score descending, then customer_token: the first ceil(n / 10) of the
-- model-month's n customers. The customer at position q from the top is in it when 10·q ≤ n + 9 (integers only, the
-- same on every engine). A score whose customers straddle the cut is split by customer_token, as ntile splits it.
cut as (
    select
        model_name,
        model_version,
        outcome_month,
        score,
        higher_count,
        customer_count
    from placed
    where 10 * (higher_count + 1) <= customer_count + 9 and 10 * (higher_count + tied_count) > customer_count + 9
),

cut_top as (
    select
        model_name,
        model_version,
        outcome_month,
        count(*) as top_count,
        sum(label) as top_positive_count
    from (
        select
            judged.model_name,
            judged.model_version,
            judged.outcome_month,
            judged.label,
            cut.higher_count,
            cut.customer_count,
            row_number() over (
                partition by judged.model_name, judged.model_version, judged.outcome_month
                order by judged.customer_token asc
            ) as tie_position
        from judged
        inner join cut
            on
                judged.model_name = cut.model_name
                and judged.model_version = cut.model_version
                and judged.outcome_month = cut.outcome_month
                and judged.score = cut.score
    ) as tied
    where 10 * (higher_count + tie_position) <= customer_count + 9
    group by model_name, model_version, outcome_month
),

placed_summary as (
    select
        model_name,
        model_version,
        outcome_month,
        max(customer_count) as customer_count,
        sum(positive_count) as positive_count,
        -- a tie's average rank: its first rank (lower_count + 1) plus half the others tied with it
        sum(
            positive_count * (cast(lower_count as {{ type_double() }}) + 1 + (tied_count - 1) / 2.0)
        ) as positive_rank_sum,
        sum(case when 10 * (higher_count + tied_count) <= customer_count + 9 then tied_count else 0 end)
            as whole_top_count,
        sum(case when 10 * (higher_count + tied_count) <= customer_count + 9 then positive_count else 0 end)
            as whole_top_positive_count,
        max(landed_through) as landed_through
    from placed
    group by model_name, model_version, outcome_month
),

summary as (
    select
        placed_summary.model_name,
        placed_summary.model_version,
        placed_summary.outcome_month,
        placed_summary.customer_count,
        placed_summary.positive_count,
        placed_summary.positive_rank_sum,
        placed_summary.landed_through,
        placed_summary.whole_top_count + coalesce(cut_top.top_count, 0) as top_decile_count,
        placed_summary.whole_top_positive_count + coalesce(cut_top.top_positive_count, 0) as top_decile_positive_count
    from placed_summary
    left join cut_top
        on
            placed_summary.model_name = cut_top.model_name
            and placed_summary.model_version = cut_top.model_version
            and placed_summary.outcome_month = cut_top.outcome_month
),

measured as (
    select
        model_name,
        model_version,
        outcome_month,
        cast(customer_count as bigint) as customer_count,
        cast(positive_count as bigint) as positive_count,
        cast(customer_count - positive_count as bigint) as negative_count,
        cast(top_decile_count as bigint) as top_decile_count,
        cast(top_decile_positive_count as bigint) as top_decile_positive_count,
        cast(positive_count as {{ type_double() }}) / customer_count as positive_rate,
        case
            when positive_count > 0 and positive_count < customer_count
                then
                    (positive_rank_sum - cast(positive_count as {{ type_double() }}) * (positive_count + 1) / 2)
                    / (cast(positive_count as {{ type_double() }}) * (customer_count - positive_count))
        end as auc,
        case
            when positive_count > 0 and top_decile_count > 0
                then
                    (cast(top_decile_positive_count as {{ type_double() }}) / top_decile_count)
                    / (cast(positive_count as {{ type_double() }}) / customer_count)
        end as top_decile_lift,
        landed_through
    from summary
)

select
    model_name,
    model_version,
    outcome_month,
    customer_count,
    positive_count,
    negative_count,
    cast(round(positive_rate, 9) as {{ type_double() }}) as positive_rate,
    cast(round(auc, 9) as {{ type_double() }}) as auc,
    top_decile_count,
    top_decile_positive_count,
    cast(round(top_decile_lift, 9) as {{ type_double() }}) as top_decile_lift,
    landed_through
from measured
