-- The vault: customer_token → the customer's identity in clear text, latest version per customer. Built only on the
-- system targets (dbt_project.yml); re-identifying anyone means joining this relation, which only the system
-- account can read. It reads raw directly because it is the one place clear values are meant to survive.
with

source as (
    select * from {{ source('crm', 'customers') }}
),

masking_keys as (
    {{ masking_keys() }}
),

identified as (
    select
        {{ tokenize('source.national_id', 'national_id') }} as customer_token,
        upper(trim(source.national_id)) as national_id,
        trim(source.name_zh) as name_zh,
        {{ cast_text('source.birth_date', 'date') }} as birth_date,
        {{ normalize_pii('source.mobile', 'mobile') }} as mobile,
        {{ normalize_pii('source.email', 'email') }} as email,
        trim(source.address) as address,
        {{ cast_text('source.updated_at', 'timestamp') }} as updated_at,
        masking_keys.key_version as masking_key_version
    from source
    cross join masking_keys
    where
        not {{ missing_required('crm', 'customers') }}
        and {{ national_id_is_valid('source.national_id') }}
        and not {{ wrong_type('crm', 'customers') }}
),

latest as (
    select
        identified.*,
        row_number() over (partition by customer_token order by updated_at desc) as version_rank
    from identified
)

select
    customer_token,
    national_id,
    name_zh,
    birth_date,
    mobile,
    email,
    address,
    updated_at,
    masking_key_version
from latest
where version_rank = 1
