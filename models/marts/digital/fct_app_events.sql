-- One row per accepted mobile-app event, keyed by masked customer token.
-- Incremental: each run merges the events first landed from landing_window_start() on (staging keeps an event's
-- first landing date, so a late or duplicate line never moves an older row).
{{ config(**keyed_incremental(['event_id'], first_landed=true)) }}
{%- set since = landing_window_start() %}

with

events as (
    select * from {{ ref('stg_digital__app_events') }}
)

select
    event_id,
    customer_token,
    event_type,
    event_at,
    cast(event_at as date) as event_date,
    page,
    product_code,
    device_os,
    device_os_version,
    app_version,
    device_model,
    landing_date,
    landing_date > cast(event_at as date) as is_late_arrival
from events
{%- if since %}
where {{ landed_since(since) }}
{%- endif %}
