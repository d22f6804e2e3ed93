-- One row per account: the latest accepted version of the core-banking change extract, masked.
with

accepted as (
    select * from {{ ref('base_core_banking__accounts') }}
    where reject_reason is null
),

latest as (
    {{ deduplicated('accepted', ['account_id'], 'updated_at desc, landing_date desc') }}
)

select
    account_id,
    customer_token,
    product_type,
    product_code,
    account_status,
    opened_date,
    closed_date,
    balance_twd,
    credit_limit_twd,
    updated_at,
    landing_date
from latest
