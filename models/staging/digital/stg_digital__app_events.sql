-- One row per app event, accepted and masked, as first landed (a duplicate landing later collapses here).
with

accepted as (
    select * from {{ ref('base_digital__app_events') }}
    where reject_reason is null
),

first_landed as (
    {{ deduplicated('accepted', ['event_id'], 'landing_date asc') }}
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
