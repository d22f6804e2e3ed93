-- Per customer and calendar month: card spend by spend category, channel and merchant country (with whether that
-- is abroad), in TWD.
with

transactions as (
    select * from {{ ref('int_card_transactions_categorized') }}
),

aggregated as (
    select
        customer_token,
        channel,
        spend_category,
        merchant_country_code,
        is_foreign,
        {{ dbt.date_trunc('month', 'transaction_date') }} as spend_month,
        count(*) as transaction_count,
        sum(amount_twd) as spend_twd
    from transactions
    group by
        customer_token,
        channel,
        spend_category,
        merchant_country_code,
        is_foreign,
        {{ dbt.date_trunc('month', 'transaction_date') }}
)

select
    customer_token,
    cast(spend_month as date) as spend_month,
    spend_category,
    channel,
    merchant_country_code,
    is_foreign,
    transaction_count,
    spend_twd
from aggregated
