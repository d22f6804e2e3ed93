{#- The staged scores of the version-months a run recomputes, for the models replaced per model version and score
    month (int_model_scores_aggregated_monthly, int_model_scores_binned_monthly): two CTEs, `scores` (every staged
    score with its score_month, inlined) and `in_window`: with a window (`since`, the model's
    landing_window_start('landed_through')) every score of the version-months a score landed from `since` on falls
    in, read from the first of the earliest such month on (touched_groups, month_floor_landed_since); without one
    (a first build, a full refresh) every score. Both models compute each row from one month's scores: on DuckDB
    their full build is one statement per month (month_part, macros/engines/month_parts.sql). -#}
{% macro score_months_in_window(since) -%}
scores as {{ not_materialized() }} (
    select
        customer_token,
        model_name,
        model_version,
        score,
        scored_at,
        landing_date,
        cast({{ dbt.date_trunc('month', 'scored_at') }} as date) as score_month
    from {{ ref('stg_ml__model_scores') }}
    where {{ month_part('scored_at', ref('stg_ml__model_scores')) }}
),

{%- if since %}

{{ touched_groups('scores', ['model_name', 'model_version', 'score_month'], since,
                  floor=month_floor_landed_since(ref('stg_ml__model_scores'), 'scored_at', since)) }}
{%- else %}

in_window as (
    select * from scores
),
{%- endif %}
{%- endmacro %}
