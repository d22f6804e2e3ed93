-- One row per accepted card transaction, keyed by masked customer token, with its spend category.
-- Incremental: each run merges the transactions first landed from landing_window_start() on (staging keeps a
-- transaction's first landing date, so a late or duplicate record never moves an older row).
{{ config(**keyed_incremental(['transaction_id'], first_landed=true)) }}
{%- set since = landing_window_start() %}

with

transactions as (
    select * from {{ ref('int_card_transactions_categorized') }}
)

select
    transaction_id,
    customer_token,
    card_id,
    transaction_at,
    transaction_date,
    currency_code,
    merchant_category_code,
    merchant_country_code,
    channel,
    wallet_type,
    landing_date,
    spend_category,
    is_foreign,
    cast(amount as decimal(18, 2)) as amount,
    cast(amount_twd as decimal(18, 2)) as amount_twd
from transactions
{%- if since %}
where {{ landed_since(since) }}
{%- endif %}
