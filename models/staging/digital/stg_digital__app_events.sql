-- One row per app event, accepted and masked, as first landed (a duplicate landing later collapses here).
-- Incremental: a run dedups the accepted rows landed from landing_window_start() on and merges them on the key,
-- leaving out keys this table already holds from an earlier landing (first landed wins, as in a full build).
{{ config(**keyed_incremental(['event_id'], first_landed=true)) }}
{%- set since = landing_window_start() %}

with

accepted as {{ not_materialized() }} (
    select * from {{ ref('base_digital__app_events') }}
    where reject_reason is null
),

in_window as {{ not_materialized() }} (
    select * from accepted
    {%- if since %}
    where {{ landed_since(since) }}
    {%- endif %}
),

first_landed as (
    {{ deduplicated('in_window', ['event_id'], 'landing_date asc', few_repeated=true) }}
)

select
    event_id,
    customer_token,
    event_type,
    event_at,
    page,
    product_code,
    device_os,
    device_os_version,
    app_version,
    device_model,
    landing_date
from first_landed
{%- if since %}
where {{ not_landed_before_window('first_landed', ['event_id'], since) }}
{%- endif %}
