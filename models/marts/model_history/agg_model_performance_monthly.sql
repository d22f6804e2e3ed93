-- Performance of each model version per month against the outcomes (ml.model_outcomes): the customers the month's
-- scoring run scored and whose outcome is known, the positives among them, the AUC in its rank (Mann-Whitney) form
-- and the lift of the top score decile. AUC = (R+ − P·(P+1)/2) / (P·N), R+ the sum of the positives' ranks by
-- ascending score (tied scores share their average rank), P and N the positives and negatives. Ratios are rounded to
-- 9 decimals so that a re-run gives the same table (a parallel floating-point sum depends on its order).
-- landed_through: the newest landing date of the scores and outcomes a row measures.
-- Incremental by group (docs/daily-runs.md): a run recomputes, from all of their scores and outcomes, the model-months
-- a score or an outcome landed from landing_window_start('landed_through') on falls in, and replaces them whole (every
-- version: a month scored again with a new version drops the old version's row, as a full build does).
{{ config(**group_replace_incremental(['model_name', 'outcome_month'])) }}
{%- set since = landing_window_start('landed_through') %}

with

scores_all as (
    select
        customer_token,
        model_name,
        model_version,
        score,
        scored_at,
        landing_date,
        cast({{ dbt.date_trunc('month', 'scored_at') }} as date) as outcome_month
    from {{ ref('stg_ml__model_scores') }}
),

outcomes_all as (
    select * from {{ ref('stg_ml__model_outcomes') }}
),

{%- if since %}

touched as (
    select
        model_name,
        outcome_month
    from scores_all
    where {{ landed_since(since) }}
    union
    select
        model_name,
        outcome_month
    from outcomes_all
    where {{ landed_since(since) }}
),

scores_dated as (
    select scores_all.*
    from scores_all
    inner join touched
        on scores_all.model_name = touched.model_name and scores_all.outcome_month = touched.outcome_month
),

outcomes as (
    select outcomes_all.*
    from outcomes_all
    inner join touched
        on outcomes_all.model_name = touched.model_name and outcomes_all.outcome_month = touched.outcome_month
),
{%- else %}

scores_dated as (
    select * from scores_all
),

outcomes as (
    select * from outcomes_all
),
{%- endif %}

-- the month's last run, should a run have been repeated
monthly_scores as (
    {{ deduplicated('scores_dated', ['customer_token', 'model_name', 'outcome_month'],
                    'scored_at desc, model_version desc') }}
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

ranked as (
    select
        model_name,
        model_version,
        outcome_month,
        label,
        landed_through,
        rank() over (partition by model_name, model_version, outcome_month order by score asc) as score_rank,
        count(*) over (partition by model_name, model_version, outcome_month, score) as tied_count,
        ntile(10) over (
            partition by model_name, model_version, outcome_month order by score desc, customer_token asc
        ) as score_decile
    from judged
),

summary as (
    select
        model_name,
        model_version,
        outcome_month,
        count(*) as customer_count,
        sum(label) as positive_count,
        -- a tie's average rank: its first rank plus half the others tied with it
        sum(
            case when label = 1 then cast(score_rank as {{ type_double() }}) + (tied_count - 1) / 2.0 end
        ) as positive_rank_sum,
        sum(case when score_decile = 1 then 1 else 0 end) as top_decile_count,
        sum(case when score_decile = 1 then label else 0 end) as top_decile_positive_count,
        max(landed_through) as landed_through
    from ranked
    group by model_name, model_version, outcome_month
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
