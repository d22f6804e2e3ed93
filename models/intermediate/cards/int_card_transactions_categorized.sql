{{ config(materialized='ephemeral') }}
-- Accepted card transactions with their spend category and whether the merchant is abroad: the one place those
-- rules live. Ephemeral (inlined into the models that read it) so the 45M-row feed is not written a second time.
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
    transactions.amount,
    transactions.currency_code,
    transactions.amount_twd,
    transactions.merchant_category_code,
    transactions.merchant_country_code,
    transactions.channel,
    transactions.wallet_type,
    transactions.landing_date,
    coalesce(merchant_categories.spend_category, 'other') as spend_category,
    transactions.merchant_country_code <> 'TW' as is_foreign
from transactions
left join merchant_categories
    on transactions.merchant_category_code = merchant_categories.merchant_category_code
