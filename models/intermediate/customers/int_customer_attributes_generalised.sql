-- Per customer: the generalised attributes of the latest CRM version, and when that version was written. What the
-- customer-attribute snapshot records: no token but the customer's own, no mask, no identity.
with

customers as (
    select * from {{ ref('stg_crm__customers') }}
)

select
    customer_token,
    gender,
    cast(birth_year as integer) as birth_year,
    age_band,
    city,
    district,
    home_branch_code,
    risk_grade,
    customer_status,
    customer_since_date,
    updated_at,
    mobile_token is not null as has_mobile,
    email_token is not null as has_email
from customers
