-- Core banking's account change extract, typed, with every row kept and a reason on those to quarantine.
-- Walking skeleton: the holder's national ID is checked but not selected until masking lands.
with

source as (
    select * from {{ source('core_banking', 'accounts') }}
),

typed as (
    select
        {{ landing_date() }} as landing_date,
        trim(account_id) as account_id,
        lower(trim(product_type)) as product_type,
        trim(product_code) as product_code,
        lower(trim(account_status)) as account_status,
        {{ safe_cast('opened_date', 'date') }} as opened_date,
        {{ safe_cast('closed_date', 'date') }} as closed_date,
        {{ safe_cast('balance_twd', 'decimal(18, 2)') }} as balance_twd,
        {{ safe_cast('credit_limit_twd', 'decimal(18, 2)') }} as credit_limit_twd,
        {{ safe_cast('updated_at', 'timestamp') }} as updated_at,
        case
            when {{ missing_required('core_banking', 'accounts') }} then 'missing_required'
            when {{ wrong_type('core_banking', 'accounts') }} then 'wrong_type'
            when {{ safe_cast('balance_twd', 'decimal(18, 2)') }} < 0 then 'negative_amount'
            when {{ safe_cast('balance_twd', 'decimal(18, 2)') }} >= {{ var('absurd_amount_twd') }}
                then 'absurd_amount'
        end as reject_reason
    from source
)

select * from typed
