-- Per customer and calendar month: card spend by spend category, channel and merchant country (with whether that
-- is abroad), in TWD; landed_through is the newest landing date of the transactions counted in the row.
-- Incremental by group (docs/daily-runs.md): a run recomputes, from all of their transactions, the customer-months
-- a transaction landed from landing_window_start('landed_through') on falls in (a late one may fall in an earlier
-- month), and replaces those customer-months whole; it reads the transactions from the first of the earliest such
-- month on (month_floor_landed_since), not the whole feed.
-- Every row is computed from one month's transactions (the month is in the group key): on DuckDB a full build is one
-- statement per month (month_part, macros/engines/month_parts.sql; the month's bounds read from staging, whose
-- transaction_date the ephemeral model passes through), each holding one month's groups.
-- depends_on: {{ ref('stg_cards__transactions') }} (read for the touched groups and their floor in an incremental run)
{{ config(**group_replace_incremental(['customer_token', 'spend_month'])) }}
{%- set since = landing_window_start('landed_through') %}

with

transactions as {{ not_materialized() }} (
    select
        *,
        {{ dbt.date_trunc('month', 'transaction_date') }} as transaction_month
    from {{ ref('int_card_transactions_categorized') }}
    where {{ month_part('transaction_date', ref('stg_cards__transactions')) }}
),

{%- if since %}

-- the touched customer-months, from the staged rows the ephemeral model categorises (the same rows): read twice,
-- the ephemeral model would be copied whole, all history, every day (2.7 s of 46 M rows at the large scale)
landed as {{ not_materialized() }} (
    select
        customer_token,
        landing_date,
        {{ dbt.date_trunc('month', 'transaction_date') }} as transaction_month
    from {{ ref('stg_cards__transactions') }}
),

{{ touched_groups('transactions', ['customer_token', 'transaction_month'], since, touched_from='landed',
                  floor=month_floor_landed_since(ref('stg_cards__transactions'), 'transaction_date', since)) }}
{%- else %}

in_window as (
    select * from transactions
),
{%- endif %}

aggregated as (
    select
        customer_token,
        channel,
        spend_category,
        merchant_country_code,
        is_foreign,
        transaction_month as spend_month,
        count(*) as transaction_count,
        sum(amount_twd) as spend_twd,
        max(landing_date) as landed_through
    from in_window
    group by
        customer_token,
        channel,
        spend_category,
        merchant_country_code,
        is_foreign,
        transaction_month
)

select
    customer_token,
    cast(spend_month as date) as spend_month,
    spend_category,
    channel,
    merchant_country_code,
    is_foreign,
    transaction_count,
    spend_twd,
    landed_through
from aggregated
-- stored month by month: a read of the recent months (fct_customer_monthly_metrics' daily run, this model's delete)
-- skips the storage blocks of the older ones (DuckDB's zone maps, Parquet's row-group statistics on Athena)
order by spend_month
