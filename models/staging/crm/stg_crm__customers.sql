-- The CRM change extract, typed, with every row kept and a reason on those that must be quarantined.
-- Walking skeleton: no personal-data column is selected until masking lands; the national ID is only checked.
with

source as (
    select * from {{ source('crm', 'customers') }}
),

typed as (
    select
        {{ landing_date() }} as landing_date,
        upper(trim(gender)) as gender,
        trim(home_branch) as home_branch_code,
        upper(trim(risk_grade)) as risk_grade,
        lower(trim(customer_status)) as customer_status,
        {{ safe_cast('customer_since', 'date') }} as customer_since_date,
        {{ safe_cast('updated_at', 'timestamp') }} as updated_at,
        case
            when {{ missing_required('crm', 'customers') }} then 'missing_required'
            when not {{ national_id_is_valid('source.national_id') }} then 'invalid_checksum'
            when {{ wrong_type('crm', 'customers') }} then 'wrong_type'
        end as reject_reason
    from source
)

select * from typed
