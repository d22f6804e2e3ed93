-- Core banking's account change extract, typed and masked, one row per raw row, with a reason on those to
-- quarantine. The holder's national ID becomes customer_token, tokenized once per distinct ID.
with

source as (
    select * from {{ source('core_banking', 'accounts') }}
),

masking_keys as (
    {{ masking_keys() }}
),

customer_tokens as (
    {{ token_lookup('source', 'national_id', 'national_id') }}
),

typed as (
    select
        {{ masked_columns('core_banking', 'accounts', lookups={'national_id': 'customer_tokens'}) }},
        {{ landing_date() }} as landing_date,
        trim(source.account_id) as account_id,
        lower(trim(source.product_type)) as product_type,
        trim(source.product_code) as product_code,
        lower(trim(source.account_status)) as account_status,
        {{ safe_cast('source.opened_date', 'date') }} as opened_date,
        {{ safe_cast('source.closed_date', 'date') }} as closed_date,
        {{ safe_cast('source.balance_twd', 'decimal(18, 2)') }} as balance_twd,
        {{ safe_cast('source.credit_limit_twd', 'decimal(18, 2)') }} as credit_limit_twd,
        {{ safe_cast('source.updated_at', 'timestamp') }} as updated_at,
        case
            when {{ missing_required('core_banking', 'accounts') }} then 'missing_required'
            when {{ wrong_type('core_banking', 'accounts') }} then 'wrong_type'
            when {{ safe_cast('source.balance_twd', 'decimal(18, 2)') }} < 0 then 'negative_amount'
            when {{ safe_cast('source.balance_twd', 'decimal(18, 2)') }} >= {{ var('absurd_amount_twd') }}
                then 'absurd_amount'
        end as reject_reason
    from source
    left join customer_tokens
        on source.national_id = customer_tokens.value
)

select * from typed
