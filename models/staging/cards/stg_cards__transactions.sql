-- Card transactions, typed, masked and converted to TWD, one row per raw row, with a reason on those to
-- quarantine. The cardholder's national ID becomes customer_token, tokenized once per distinct ID (the feed
-- repeats each customer on many rows). The currency reference is joined only to validate and convert.
with

source as (
    select * from {{ source('cards', 'transactions') }}
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

typed as (
    select
        {{ masked_columns('cards', 'transactions', lookups={'national_id': 'customer_tokens'}) }},
        {{ landing_date() }} as landing_date,
        source.transaction_id,
        source.card_id,
        source.transaction_at,
        cast(source.transaction_at as date) as transaction_date,
        source.amount,
        upper(source.currency) as currency_code,
        cast(source.amount * currencies.twd_per_unit as decimal(18, 2)) as amount_twd,
        source.merchant_category_code,
        upper(source.merchant_country) as merchant_country_code,
        lower(source.channel) as channel,
        lower(source.wallet_type) as wallet_type,
        case
            when {{ missing_required('cards', 'transactions') }} then 'missing_required'
            when currencies.currency_code is null then 'unknown_currency'
            when source.amount < 0 then 'negative_amount'
            when source.amount * currencies.twd_per_unit >= {{ var('absurd_amount_twd') }} then 'absurd_amount'
        end as reject_reason
    from source
    left join customer_tokens
        on source.national_id = customer_tokens.value
    left join currencies
        on upper(source.currency) = currencies.currency_code
)

select * from typed
