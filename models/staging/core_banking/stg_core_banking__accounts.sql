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
            when
                {{ is_blank('account_id') }} or {{ is_blank('national_id') }}
                or {{ is_blank('product_type') }} or {{ is_blank('balance_twd') }} or {{ is_blank('updated_at') }}
                then 'missing_required'
            when
                {{ safe_cast('balance_twd', 'decimal(18, 2)') }} is null
                or {{ safe_cast('updated_at', 'timestamp') }} is null
                or ({{ safe_cast('opened_date', 'date') }} is null and not {{ is_blank('opened_date') }})
                or ({{ safe_cast('closed_date', 'date') }} is null and not {{ is_blank('closed_date') }})
                or (
                    {{ safe_cast('credit_limit_twd', 'decimal(18, 2)') }} is null
                    and not {{ is_blank('credit_limit_twd') }}
                )
                then 'wrong_type'
            when {{ safe_cast('balance_twd', 'decimal(18, 2)') }} < 0 then 'negative_amount'
            when {{ safe_cast('balance_twd', 'decimal(18, 2)') }} >= {{ var('absurd_amount_twd') }}
                then 'absurd_amount'
        end as reject_reason
    from source
)

select * from typed
