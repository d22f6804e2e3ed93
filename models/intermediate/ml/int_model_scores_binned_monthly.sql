-- Per model version, calendar month of its scoring runs and score bin (var('score_bins') equal bins of [0, 1], a
-- score of exactly 1 in the last): how many scores it gave in the bin; landed_through is the newest landing date of
-- the month's scores (the same on every bin of a month). Only bins holding a score are listed:
-- agg_model_score_distribution_monthly lists every bin, reading these counts instead of every score each day.
-- Incremental by group (docs/daily-runs.md), as int_model_scores_aggregated_monthly: a run recomputes, from all of
-- their scores, the version-months a score landed from landing_window_start('landed_through') on falls in, and
-- replaces them whole (every bin); it reads the scores from the first of the earliest such month on. Scores land on
-- scoring days only, so on most days the run replaces nothing.
-- depends_on: {{ ref('stg_ml__model_scores') }} (read by month_floor_landed_since in an incremental run)
{{ config(**group_replace_incremental(['model_name', 'model_version', 'score_month'])) }}
{%- set since = landing_window_start('landed_through') %}
{%- set bins = var('score_bins') | int %}

with

{{ score_months_in_window(since) }}

binned as (
    select
        model_name,
        model_version,
        score_month,
        least(cast(floor(score * {{ bins }}) as integer), {{ bins - 1 }}) + 1 as bin_index,
        landing_date
    from in_window
),

counted as (
    select
        model_name,
        model_version,
        score_month,
        bin_index,
        count(*) as score_count,
        max(landing_date) as landed_through
    from binned
    group by model_name, model_version, score_month, bin_index
)

select
    model_name,
    model_version,
    score_month,
    cast(bin_index as integer) as bin_index,
    cast(score_count as bigint) as score_count,
    max(landed_through) over (partition by model_name, model_version, score_month) as landed_through
from counted
