-- The CRM change extract, typed and masked, one row per raw row, with a reason on those to quarantine.
-- Every personal-data column leaves here treated (masked_columns): tokens, partial masks, generalisations.
with

source as (
    select * from {{ source('crm', 'customers') }}
),

masking_keys as (
    {{ masking_keys() }}
),

typed as (
    select
        {{ masked_columns('crm', 'customers', as_of=safe_cast('source.updated_at', 'date')) }},
        {{ landing_date() }} as landing_date,
        upper(trim(source.gender)) as gender,
        trim(source.home_branch) as home_branch_code,
        upper(trim(source.risk_grade)) as risk_grade,
        lower(trim(source.customer_status)) as customer_status,
        {{ safe_cast('source.customer_since', 'date') }} as customer_since_date,
        {{ safe_cast('source.updated_at', 'timestamp') }} as updated_at,
        masking_keys.key_version as masking_key_version,
        case
            when {{ missing_required('crm', 'customers') }} then 'missing_required'
            when not {{ national_id_is_valid('source.national_id') }} then 'invalid_checksum'
            when {{ wrong_type('crm', 'customers') }} then 'wrong_type'
        end as reject_reason
    from source
    cross join masking_keys
)

select * from typed
