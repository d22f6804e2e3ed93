-- One row per customer: which tags they hold as of the lake's as-of date, one yes/no column per tag — what the
-- tag API serves to applications. The tag columns are the ones this model's YAML declares (`meta.tag_code`):
-- the contract is the public shape, so adding or removing a tag is a new version, never a silent change.
{%- set tag_columns = tag_profile_columns(version=1) %}
with

customers as (
    select * from {{ ref('dim_customers') }}
),

tags as (
    select * from {{ ref('fct_customer_tags') }}
),

as_of as (
    select as_of_date from {{ ref('int_landing_days_summarized') }}
),

pivoted as (
    select
        customer_token,
        {{ sorted_listagg('tag_code', "','") }} as tag_codes,
        {%- for column, tag_code in tag_columns %}
        max(case when tag_code = '{{ tag_code }}' then 1 else 0 end) = 1 as {{ column }},
        {%- endfor %}
        count(*) as tag_count
    from tags
    group by customer_token
)

select
    customers.customer_token,
    as_of.as_of_date,
    cast(coalesce(pivoted.tag_count, 0) as integer) as tag_count,
    {%- for column, _ in tag_columns %}
    coalesce(pivoted.{{ column }}, false) as {{ column }},
    {%- endfor %}
    pivoted.tag_codes
from customers
cross join as_of
left join pivoted
    on customers.customer_token = pivoted.customer_token
