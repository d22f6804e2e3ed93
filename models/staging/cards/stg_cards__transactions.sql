-- One row per card transaction, accepted and masked, as first landed (a duplicate landing later collapses here).
with

accepted as (
    select * from {{ ref('base_cards__transactions') }}
    where reject_reason is null
),

first_landed as (
    {{ deduplicated('accepted', ['transaction_id'], 'landing_date asc') }}
)

select
    transaction_id,
    card_id,
    customer_token,
    transaction_at,
    transaction_date,
    amount,
    currency_code,
    amount_twd,
    merchant_category_code,
    merchant_country_code,
    channel,
    wallet_type,
    landing_date
from first_landed
