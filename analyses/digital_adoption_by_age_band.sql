-- How digital is each age band? Customers, the share that is digitally active (DIG_ACTIVE) and the share that
-- has gone quiet in the app (DIG_APP_DORMANT), per age band, on the latest as-of date.
with

profile as (
    select * from {{ ref('customer_tag_profile', v=1) }}
),

customers as (
    select * from {{ ref('dim_customers') }}
)

select
    customers.age_band,
    count(*) as customers,
    avg(case when profile.has_dig_active then 1.0 else 0.0 end) as digitally_active_share,
    avg(case when profile.has_dig_app_dormant then 1.0 else 0.0 end) as app_dormant_share
from profile
inner join customers
    on profile.customer_token = customers.customer_token
group by customers.age_band
order by customers.age_band
