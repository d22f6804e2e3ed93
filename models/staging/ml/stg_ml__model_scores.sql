-- One row per customer, model, version and scoring run, accepted and masked.
-- Incremental: a run dedups the accepted rows landed from landing_window_start() on and merges them on the key,
-- leaving out keys this table already holds from an earlier landing (first landed wins, as in a full build). A key
-- holds its scoring run's time, so that check is left out when the table holds no row landed before the window
-- scored within the range the window's scores span (held_rows_may_match): nearly always, at one scoring run a month.
{{ config(**keyed_incremental(['customer_token', 'model_name', 'model_version', 'scored_at'], first_landed=true)) }}
{%- set since = landing_window_start() %}

with

accepted as {{ not_materialized() }} (
    select * from {{ ref('base_ml__model_scores') }}
    where reject_reason is null
),

in_window as {{ not_materialized() }} (
    select * from accepted
    {%- if since %}
    where {{ landed_since(since) }}
    {%- endif %}
),

first_landed as (
    {{ deduplicated(
        'in_window', ['customer_token', 'model_name', 'model_version', 'scored_at'], 'landing_date asc', few_repeated=true
    ) }}
)

select
    customer_token,
    model_name,
    model_version,
    scored_at,
    score,
    landing_date
from first_landed
{%- if since %}
where {{ not_landed_before_window(
    'first_landed', ['customer_token', 'model_name', 'model_version', 'scored_at'], since,
    bounded_by=('scored_at', ref('base_ml__model_scores'))
) }}
{%- endif %}
