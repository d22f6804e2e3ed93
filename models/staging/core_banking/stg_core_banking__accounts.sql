-- One row per account: the latest accepted version of the core-banking change extract, masked.
-- Incremental: the latest version among the accepted rows landed from landing_window_start() on, compared with the
-- version this table holds for the same keys, merged on the key. Every version landed before the window was
-- compared when it landed, so the row kept is the latest over all history, as a full build keeps it.
{{ config(**keyed_incremental(['account_id'])) }}
{%- set since = landing_window_start() %}
{%- set columns = [
    'account_id',
    'customer_token',
    'product_type',
    'product_code',
    'account_status',
    'opened_date',
    'closed_date',
    'balance_twd',
    'credit_limit_twd',
    'updated_at',
    'landing_date'
] %}

with

accepted as (
    select
        {{ columns | join(',\n        ') }}
    from {{ ref('base_core_banking__accounts') }}
    where reject_reason is null
),

in_window as (
    select * from accepted
    {%- if since %}
    where {{ landed_since(since) }}
    {%- endif %}
),

candidates as (
    select * from in_window
    {%- if since %}
    union all
    select
        {{ columns | join(',\n        ') }}
    from {{ this }}
    where account_id in (select in_window.account_id from in_window)
    {%- endif %}
),

latest as (
    {{ deduplicated('candidates', ['account_id'], 'updated_at desc, landing_date desc') }}
)

select
    {{ columns | join(',\n    ') }}
from latest
