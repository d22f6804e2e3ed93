-- Per model version and calendar month of its scoring runs: the scores it gave, the distinct customers it scored,
-- their mean score and the month's first run; landed_through is the newest landing date of the scores counted.
-- What agg_model_score_drift_monthly reports beside the PSI: counting distinct customers reads every score, so it is
-- counted here once per month instead of over all history every day. The mean is rounded to 9 decimals, as the
-- drift mart reports it: a parallel floating-point sum depends on the order it adds in, and a month recomputed in a
-- daily run must give what a full build gives.
-- Incremental by group (docs/daily-runs.md): a run recomputes, from all of their scores, the version-months a score
-- landed from landing_window_start('landed_through') on falls in (a late score may fall in an earlier month), and
-- replaces them whole; it reads the scores from the first of the earliest such month on (month_floor_landed_since).
-- Scores land on scoring days only, so on most days the window holds none and the run replaces nothing.
-- depends_on: {{ ref('stg_ml__model_scores') }} (read by month_floor_landed_since in an incremental run)
{{ config(**group_replace_incremental(['model_name', 'model_version', 'score_month'])) }}
{%- set since = landing_window_start('landed_through') %}

with

{{ score_months_in_window(since) }}

aggregated as (
    select
        model_name,
        model_version,
        score_month,
        count(*) as score_count,
        count(distinct customer_token) as customer_count,
        avg(score) as mean_score,
        min(scored_at) as first_scored_at,
        max(landing_date) as landed_through
    from in_window
    group by model_name, model_version, score_month
)

select
    model_name,
    model_version,
    score_month,
    cast(score_count as bigint) as score_count,
    cast(customer_count as bigint) as customer_count,
    cast(round(mean_score, 9) as {{ type_double() }}) as mean_score,
    first_scored_at,
    landed_through
from aggregated
