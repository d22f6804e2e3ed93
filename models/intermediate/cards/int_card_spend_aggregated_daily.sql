-- Accepted card spend per day, spend category, channel and domestic/foreign, in TWD; landed_through is the newest
-- landing date of the transactions counted in the row.
-- Incremental by group (docs/daily-runs.md): a run recomputes, from all of their transactions, the transaction dates
-- a transaction landed from landing_window_start('landed_through') on falls on (a late one falls on an earlier day),
-- and replaces those days whole; it reads the transactions from the earliest such day on (earliest_landed_since),
-- not the whole feed.
-- depends_on: {{ ref('stg_cards__transactions') }} (read for the touched days and their floor in an incremental run)
{{ config(**group_replace_incremental(['transaction_date'])) }}
{%- set since = landing_window_start('landed_through') %}

with

transactions as {{ not_materialized() }} (
    select * from {{ ref('int_card_transactions_categorized') }}
),

{%- if since %}
{%- set earliest = earliest_landed_since(ref('stg_cards__transactions'), 'transaction_date', since) %}

-- the touched days, from the staged rows the ephemeral model categorises (the same rows): read twice, the
-- ephemeral model would be copied whole, all history, every day
landed as {{ not_materialized() }} (
    select
        transaction_date,
        landing_date
    from {{ ref('stg_cards__transactions') }}
),

{{ touched_groups('transactions', ['transaction_date'], since, touched_from='landed',
                  floor=('transaction_date', earliest) if earliest else none) }}
{%- else %}

in_window as (
    select * from transactions
),
{%- endif %}

aggregated as (
    select
        transaction_date,
        channel,
        spend_category,
        is_foreign,
        count(*) as transaction_count,
        sum(amount_twd) as spend_twd,
        max(landing_date) as landed_through
    from in_window
    group by transaction_date, channel, spend_category, is_foreign
)

select * from aggregated
