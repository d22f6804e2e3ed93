-- Every card transaction: checked, typed, masked and converted to TWD, with the reason a rejected row is
-- quarantined and its raw record (personal data masked). The cardholder's national ID becomes customer_token,
-- tokenized once per distinct ID (the feed repeats each customer on many rows). The currency reference is joined
-- only to validate and convert. stg_cards__transactions keeps one accepted row per transaction.
-- Incremental by landing partition: a run re-reads only the partitions from landing_window_start() on and replaces
-- them (landing_date stays the last column: Athena overwrites partitions by it).
{{ config(**landing_partition_incremental()) }}
{%- set since = landing_window_start() %}

with

source as {{ not_materialized() }} (
    select
        *,
        {{ raw_source_file('cards', 'transactions') }} as source_file
    from {{ raw_source('cards', 'transactions', since) }}
    {%- if since %}
    where {{ raw_partitions_since(since) }}
    {%- endif %}
),

masking_keys as (
    {{ masking_keys() }}
),

customer_tokens as (
    {{ token_lookup('source', 'national_id', 'national_id') }}
),

currencies as (
    select * from {{ ref('ref_currencies') }}
),

{# Each code's validity once per row: the reject reason, the staged value and the quarantined record read it. #}
content_checked as (
    select
        source.*,
        {{ content_flags('cards', 'transactions') }}
    from source
),

checked as (
    select
        content_checked.*,
        currencies.twd_per_unit,
        case
            when {{ missing_required('cards', 'transactions', relation='content_checked') }} then 'missing_required'
            when currencies.currency_code is null then 'unknown_currency'
            when content_checked.amount < 0 then 'negative_amount'
            when content_checked.amount * currencies.twd_per_unit >= {{ var('absurd_amount_twd') }} then 'absurd_amount'
            when {{ invalid_content('cards', 'transactions', relation='content_checked', flagged=true) }}
                then 'invalid_code'
        end as reject_reason
    from content_checked
    left join currencies
        on upper(content_checked.currency) = currencies.currency_code
),

typed as (
    select
        {{ masked_columns('cards', 'transactions', relation='checked', lookups={'national_id': 'customer_tokens'}) }},
        {{ content_columns('cards', 'transactions', relation='checked', flagged=true) }},
        checked.transaction_at,
        cast(checked.transaction_at as date) as transaction_date,
        checked.amount,
        cast(checked.amount * checked.twd_per_unit as decimal(18, 2)) as amount_twd,
        checked.source_file,
        checked.reject_reason,
        case
            when checked.reject_reason is not null
                then {{ masked_record('cards', 'transactions', relation='checked', flagged=true) }}
        end as quarantined_record,
        {{ landing_date() }} as landing_date
    from checked
    left join customer_tokens
        on checked.national_id = customer_tokens.value
    cross join masking_keys  -- the quarantined record's keyed hashes
)

select * from typed
