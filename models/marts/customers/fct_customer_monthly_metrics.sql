-- Per customer and month: pre-computed card spend metrics, what tags and dashboards are computed from.
-- Incremental (docs/daily-runs.md): a run recomputes the customer-months whose monthly aggregate took a transaction
-- landed from landing_window_start('landed_through') on, from all of the month's aggregates, and merges them; it reads
-- the aggregates from the earliest such month on (month_floor_landed_since), not every month.
-- Every row is one customer-month's: on DuckDB a full build is one statement per month (month_part,
-- macros/engines/month_parts.sql), each grouping one month's aggregates.
{{ config(**keyed_incremental(['customer_token', 'spend_month'])) }}
{%- set since = landing_window_start('landed_through') %}

with

monthly as {{ not_materialized() }} (
    select * from {{ ref('int_card_spend_aggregated_monthly') }}
    where {{ month_part('spend_month', ref('int_card_spend_aggregated_monthly')) }}
),

{%- if since %}

{{ touched_groups('monthly', ['customer_token', 'spend_month'], since, 'landed_through',
                  floor=month_floor_landed_since(ref('int_card_spend_aggregated_monthly'), 'spend_month', since,
                                                 'landed_through')) }}
{%- else %}

in_window as (
    select * from monthly
),
{%- endif %}

metrics as (
    select
        customer_token,
        spend_month,
        sum(transaction_count) as transaction_count,
        sum(spend_twd) as spend_twd,
        sum(case when is_foreign then spend_twd else 0 end) as foreign_spend_twd,
        sum(case when channel = 'online' then spend_twd else 0 end) as online_spend_twd,
        sum(case when spend_category = 'travel' then spend_twd else 0 end) as travel_spend_twd,
        sum(case when spend_category = 'dining' then spend_twd else 0 end) as dining_spend_twd,
        count(distinct spend_category) as spend_category_count,
        max(landed_through) as landed_through
    from in_window
    group by customer_token, spend_month
)

select
    customer_token,
    spend_month,
    cast(transaction_count as bigint) as transaction_count,
    cast(spend_twd as decimal(18, 2)) as spend_twd,
    cast(foreign_spend_twd as decimal(18, 2)) as foreign_spend_twd,
    cast(online_spend_twd as decimal(18, 2)) as online_spend_twd,
    cast(travel_spend_twd as decimal(18, 2)) as travel_spend_twd,
    cast(dining_spend_twd as decimal(18, 2)) as dining_spend_twd,
    cast(spend_category_count as integer) as spend_category_count,
    landed_through
from metrics
-- stored month by month: a daily run's merge, and a reader's filter on recent months, skip the older months' storage
-- blocks (DuckDB's zone maps, Parquet's row-group statistics on Athena)
order by spend_month
