-- One row per accepted card transaction, keyed by masked customer token, with its spend category.
with

transactions as (
    select * from {{ ref('stg_cards__transactions') }}
),

merchant_categories as (
    select * from {{ ref('ref_merchant_categories') }}
)

select
    transactions.transaction_id,
    transactions.customer_token,
    transactions.card_id,
    transactions.transaction_at,
    transactions.transaction_date,
    transactions.currency_code,
    transactions.merchant_category_code,
    transactions.merchant_country_code,
    transactions.channel,
    transactions.wallet_type,
    transactions.landing_date,
    cast(transactions.amount as decimal(18, 2)) as amount,
    cast(transactions.amount_twd as decimal(18, 2)) as amount_twd,
    coalesce(merchant_categories.spend_category, 'other') as spend_category,
    transactions.merchant_country_code <> 'TW' as is_foreign
from transactions
left join merchant_categories
    on transactions.merchant_category_code = merchant_categories.merchant_category_code
