-- Accepted card spend per day, spend category, channel and domestic/foreign, in TWD.
with

transactions as (
    select * from {{ ref('int_card_transactions_categorized') }}
),

aggregated as (
    select
        transaction_date,
        channel,
        spend_category,
        is_foreign,
        count(*) as transaction_count,
        sum(amount_twd) as spend_twd
    from transactions
    group by transaction_date, channel, spend_category, is_foreign
)

select * from aggregated
