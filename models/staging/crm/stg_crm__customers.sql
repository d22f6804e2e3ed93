-- One row per customer: the latest accepted version of the CRM change extract, masked. Older versions and exact
-- duplicates collapse here; rejected rows are in the quarantine (fct_quarantined_rows).
with

accepted as (
    select * from {{ ref('base_crm__customers') }}
    where reject_reason is null
),

latest as (
    {{ deduplicated('accepted', ['customer_token'], 'updated_at desc, landing_date desc') }}
)

select
    customer_token,
    birth_year,
    age_band,
    mobile_token,
    mobile_masked,
    email_token,
    email_masked,
    city,
    district,
    gender,
    home_branch_code,
    risk_grade,
    customer_status,
    customer_since_date,
    updated_at,
    landing_date,
    masking_key_version
from latest
