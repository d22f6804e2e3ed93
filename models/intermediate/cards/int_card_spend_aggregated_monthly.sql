-- Per customer and calendar month: card spend by spend category, channel and domestic/foreign, in TWD.
with

transactions as (
    select * from {{ ref('stg_cards__transactions') }}
),

merchant_categories as (
    select * from {{ ref('ref_merchant_categories') }}
),

aggregated as (
    select
        transactions.customer_token,
        transactions.channel,
        {{ dbt.date_trunc('month', 'transactions.transaction_date') }} as spend_month,
        coalesce(merchant_categories.spend_category, 'other') as spend_category,
        transactions.merchant_country_code <> 'TW' as is_foreign,
        count(*) as transaction_count,
        sum(transactions.amount_twd) as spend_twd
    from transactions
    left join merchant_categories
        on transactions.merchant_category_code = merchant_categories.merchant_category_code
    group by 1, 2, 3, 4, 5
)

select
    customer_token,
    cast(spend_month as date) as spend_month,
    spend_category,
    channel,
    is_foreign,
    transaction_count,
    spend_twd
from aggregated
