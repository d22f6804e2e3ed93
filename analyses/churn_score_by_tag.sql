-- Do the rule tags agree with the churn model? For each tag, its holders, how many of them the churn model flags
-- (MDL_CHURN_HIGH: a latest churn_propensity score at or above the propensity line), that share, and the lift
-- against the share among all customers (above 1: the model sees the tag's holders as likelier to churn).
-- Marts only, as every analysis: `taglake query` runs analyses on the marts and reference relations alone.
with

tags as (
    select * from {{ ref('fct_customer_tags') }}
),

customers as (
    select count(*) as customer_count from {{ ref('dim_customers') }}
),

churn_flagged as (
    select distinct customer_token from tags
    where tag_code = 'MDL_CHURN_HIGH'
),

overall as (
    select
        cast(count(churn_flagged.customer_token) as {{ type_double() }})
        / max(customers.customer_count) as churn_high_share
    from customers
    left join churn_flagged on 1 = 1
)

select
    tags.tag_code,
    count(distinct tags.customer_token) as holders,
    count(distinct churn_flagged.customer_token) as churn_high_holders,
    cast(count(distinct churn_flagged.customer_token) as {{ type_double() }})
    / count(distinct tags.customer_token) as churn_high_share,
    case
        when max(overall.churn_high_share) > 0
            then
                cast(count(distinct churn_flagged.customer_token) as {{ type_double() }})
                / count(distinct tags.customer_token)
                / max(overall.churn_high_share)
    end as churn_high_lift
from tags
left join churn_flagged
    on tags.customer_token = churn_flagged.customer_token
cross join overall
where tags.tag_code != 'MDL_CHURN_HIGH'
group by tags.tag_code
order by churn_high_lift desc nulls last, holders desc
