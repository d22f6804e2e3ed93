-- Per customer seen in the app: how recently and how often they used it, as of the lake's as-of date (the newest
-- landing day of any raw table, as every tag window counts from).
with

events as (
    select * from {{ ref('stg_digital__app_events') }}
),

as_of as (
    select as_of_date from {{ ref('int_landing_days_summarized') }}
),

summarized as (
    select
        events.customer_token,
        max(as_of.as_of_date) as as_of_date,
        min(events.event_at) as first_event_at,
        max(events.event_at) as last_event_at,
        max(cast(events.event_at as date)) as last_event_date,
        max(case when events.event_type = 'login' then events.event_at end) as last_login_at,
        count(
            case
                when cast(events.event_at as date) > {{ dbt.dateadd('day', -30, 'as_of.as_of_date') }} then 1
            end
        ) as events_30d,
        count(distinct case
            when cast(events.event_at as date) > {{ dbt.dateadd('day', -30, 'as_of.as_of_date') }}
                then cast(events.event_at as date)
        end) as active_days_30d,
        count(case when events.event_type = 'product_view' then 1 end) as product_views
    from events
    cross join as_of
    group by events.customer_token
)

select
    customer_token,
    as_of_date,
    first_event_at,
    last_event_at,
    last_login_at,
    {{ dbt.datediff('last_event_date', 'as_of_date', 'day') }} as days_since_last_event,  -- noqa: LT05
    events_30d,
    active_days_30d,
    product_views
from summarized
