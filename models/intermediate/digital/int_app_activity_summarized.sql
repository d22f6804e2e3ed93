-- Per customer seen in the app: how recently and how often they used it, as of the lake's as-of date (the newest
-- landing day of any raw table, as every tag window counts from).
-- Two reads of the events: one over all of them for the figures of all time (no distinct count: a distinct per
-- group over every event of history was the costliest part), one over the last 30 days for the counts of those
-- days, whose bound is also given as a constant when the calendar is built (built_as_of_date): DuckDB then reads
-- only the storage blocks of those days.
{%- set window_days = 30 %}
{%- set as_of_date = built_as_of_date(ref('int_landing_days_summarized')) %}
{%- set first_day = as_of_date - modules.datetime.timedelta(days=window_days - 1) if as_of_date else none %}
with

events as {{ not_materialized() }} (
    select * from {{ ref('stg_digital__app_events') }}
),

as_of as (
    select as_of_date from {{ ref('int_landing_days_summarized') }}
),

summarized as (
    select
        customer_token,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        max(cast(event_at as date)) as last_event_date,
        max(case when event_type = 'login' then event_at end) as last_login_at,
        count(case when event_type = 'product_view' then 1 end) as product_views
    from events
    group by customer_token
),

recent as (
    select
        events.customer_token,
        count(*) as events_30d,
        count(distinct cast(events.event_at as date)) as active_days_30d
    from events
    cross join as_of
    where
        cast(events.event_at as date) > {{ dbt.dateadd('day', -window_days, 'as_of.as_of_date') }}
        and {{ constant_bounds('events.event_at', first_day, cast_as='timestamp') }}
    group by events.customer_token
)

select
    summarized.customer_token,
    as_of.as_of_date,
    summarized.first_event_at,
    summarized.last_event_at,
    summarized.last_login_at,
    {{ dbt.datediff('summarized.last_event_date', 'as_of.as_of_date', 'day') }} as days_since_last_event,  -- noqa: LT05
    coalesce(recent.events_30d, 0) as events_30d,
    coalesce(recent.active_days_30d, 0) as active_days_30d,
    summarized.product_views
from summarized
cross join as_of
left join recent
    on summarized.customer_token = recent.customer_token
