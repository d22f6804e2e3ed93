-- Accepted card spend per day, spend category, channel and domestic/foreign, in TWD.
with

transactions as (
    select * from {{ ref('stg_cards__transactions') }}
),

merchant_categories as (
    select * from {{ ref('ref_merchant_categories') }}
),

aggregated as (
    select
        transactions.transaction_date,
        transactions.channel,
        coalesce(merchant_categories.spend_category, 'other') as spend_category,
        transactions.merchant_country_code <> 'TW' as is_foreign,
        count(*) as transaction_count,
        sum(transactions.amount_twd) as spend_twd
    from transactions
    left join merchant_categories
        on transactions.merchant_category_code = merchant_categories.merchant_category_code
    group by 1, 2, 3, 4
)

select * from aggregated
