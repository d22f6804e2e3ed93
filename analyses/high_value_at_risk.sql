-- Which high-value customers show signs of leaving? Every customer holding a value tag (VAL_HNW or
-- VAL_MASS_AFFLUENT) with the churn signals they hold (MDL_CHURN_HIGH, LC_DORMANT, DIG_APP_DORMANT), most signals
-- and most assets first: the retention team's watch list, by token (only the system account resolves tokens).
with

tags as (
    select * from {{ ref('fct_customer_tags') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

per_customer as (
    select
        customer_token,
        max(case when tag_code in ('VAL_HNW', 'VAL_MASS_AFFLUENT') then tag_code end) as value_tag,
        sum(case when tag_code in ('MDL_CHURN_HIGH', 'LC_DORMANT', 'DIG_APP_DORMANT') then 1 else 0 end)
            as churn_signal_count,
        max(case when tag_code = 'MDL_CHURN_HIGH' then tag_score end) as churn_score
    from tags
    group by customer_token
)

select
    per_customer.customer_token,
    per_customer.value_tag,
    per_customer.churn_signal_count,
    per_customer.churn_score,
    customers.city,
    customers.age_band,
    customers.assets_under_management_twd
from per_customer
inner join customers
    on per_customer.customer_token = customers.customer_token
where per_customer.value_tag is not null
order by per_customer.churn_signal_count desc, customers.assets_under_management_twd desc
