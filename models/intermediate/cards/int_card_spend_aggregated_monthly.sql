-- Per customer and calendar month: card spend by spend category, channel and merchant country (with whether that
-- is abroad), in TWD; landed_through is the newest landing date of the transactions counted in the row.
-- Incremental by group (docs/daily-runs.md): a run recomputes, from all of their transactions, the customer-months
-- a transaction landed from landing_window_start('landed_through') on falls in (a late one may fall in an earlier
-- month), and replaces those customer-months whole; it reads the transactions from the first of the earliest such
-- month on (month_floor_landed_since), not the whole feed.
-- depends_on: {{ ref('stg_cards__transactions') }} (read by month_floor_landed_since in an incremental run)
{{ config(**group_replace_incremental(['customer_token', 'spend_month'])) }}
{%- set since = landing_window_start('landed_through') %}

with

transactions as {{ not_materialized() }} (
    select
        *,
        {{ dbt.date_trunc('month', 'transaction_date') }} as transaction_month
    from {{ ref('int_card_transactions_categorized') }}
),

{%- if since %}

{{ touched_groups('transactions', ['customer_token', 'transaction_month'], since,
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
