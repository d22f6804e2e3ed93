-- How much do two tags overlap? Customers holding A, B and both, the Jaccard index (both / either) and the lift
-- (how much likelier B is among A than among everyone). Pick the pair with
-- `--vars '{tag_a: CARD_TRAVEL_LOVER, tag_b: CARD_OVERSEAS_SPENDER}'`.
{% set tag_a = var('tag_a', 'CARD_TRAVEL_LOVER') %}
{% set tag_b = var('tag_b', 'CARD_OVERSEAS_SPENDER') %}
with

tags as (
    select * from {{ ref('fct_customer_tags') }}
),

customers as (
    select count(*) as customer_count from {{ ref('dim_customers') }}
),

per_customer as (
    select
        customer_token,
        max(case when tag_code = '{{ tag_a }}' then 1 else 0 end) as has_a,
        max(case when tag_code = '{{ tag_b }}' then 1 else 0 end) as has_b
    from tags
    where tag_code in ('{{ tag_a }}', '{{ tag_b }}')
    group by customer_token
),

counted as (
    select
        coalesce(sum(has_a), 0) as holding_a,
        coalesce(sum(has_b), 0) as holding_b,
        coalesce(sum(has_a * has_b), 0) as holding_both,
        count(*) as holding_either
    from per_customer
)

select
    '{{ tag_a }}' as tag_a,
    '{{ tag_b }}' as tag_b,
    counted.holding_a,
    counted.holding_b,
    counted.holding_both,
    case
        when counted.holding_either > 0
            then cast(counted.holding_both as {{ type_double() }}) / counted.holding_either
    end
        as jaccard_index,
    case
        when counted.holding_a > 0 and counted.holding_b > 0
            then
                (cast(counted.holding_both as {{ type_double() }}) / counted.holding_a)
                / (cast(counted.holding_b as {{ type_double() }}) / customers.customer_count)
    end as lift_of_b_given_a
from counted
cross join customers
