-- One row per card transaction, accepted and masked, as first landed (a duplicate landing later collapses here).
-- Incremental: a run dedups the accepted rows landed from landing_window_start() on and merges them on the key,
-- leaving out keys this table already holds from an earlier landing (first landed wins, as in a full build).
{{ config(**keyed_incremental(['transaction_id'], first_landed=true)) }}
{%- set since = landing_window_start() %}

with

accepted as {{ not_materialized() }} (
    select * from {{ ref('base_cards__transactions') }}
    where reject_reason is null
),

in_window as {{ not_materialized() }} (
    select * from accepted
    {%- if since %}
    where {{ landed_since(since) }}
    {%- endif %}
),

first_landed as (
    {{ deduplicated('in_window', ['transaction_id'], 'landing_date asc', few_repeated=true) }}
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
{%- if since %}
where {{ not_landed_before_window('first_landed', ['transaction_id'], since) }}
{%- endif %}
