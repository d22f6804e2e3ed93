-- Per as-of date, tag and segment (city, age band, KYC risk grade): how many customers hold the tag and what
-- share of the segment that is — from the tag history, so every day the history changed is here, up to today.
-- What the tag dashboard reads; counts only. Segments are the customers' current attributes.
{%- set tag_columns = tag_profile_columns() %}
with

history as (
    select * from {{ ref('snap_customer_tags') }}
    where coalesce(dbt_is_deleted, 'False') <> 'True'
),

customers as (
    select * from {{ ref('dim_customers') }}
),

catalog as (
    select * from {{ ref('tag_catalog') }}
),

as_of_dates as (
    select distinct dbt_valid_from as as_of_date from history
    union
    select max(as_of_date) as as_of_date from history
),

held_on as (
    -- The version of each customer's tags that held on each date.
    select
        {%- for column, _ in tag_columns %}
        history.{{ column }},
        {%- endfor %}
        as_of_dates.as_of_date,
        history.customer_token
    from as_of_dates
    inner join history
        on
            as_of_dates.as_of_date >= history.dbt_valid_from
            and (history.dbt_valid_to is null or as_of_dates.as_of_date < history.dbt_valid_to)
),

held as (
    {%- for column, tag_code in tag_columns %}
    select
        as_of_date,
        customer_token,
        '{{ tag_code }}' as tag_code
    from held_on
    where {{ column }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

segments as (
    select
        city,
        age_band,
        risk_grade,
        count(*) as segment_customer_count
    from customers
    group by city, age_band, risk_grade
),

tagged as (
    select
        held.as_of_date,
        held.tag_code,
        customers.city,
        customers.age_band,
        customers.risk_grade,
        count(*) as tagged_customer_count
    from held
    inner join customers
        on held.customer_token = customers.customer_token
    group by
        held.as_of_date,
        held.tag_code,
        customers.city,
        customers.age_band,
        customers.risk_grade
)

select
    cast(tagged.as_of_date as date) as as_of_date,
    cast(tagged.tag_code as varchar) as tag_code,
    catalog.tag_family,
    tagged.city,
    tagged.age_band,
    tagged.risk_grade,
    cast(tagged.tagged_customer_count as bigint) as tagged_customer_count,
    cast(segments.segment_customer_count as bigint) as segment_customer_count,
    cast(tagged.tagged_customer_count as {{ type_double() }})
    / cast(segments.segment_customer_count as {{ type_double() }}) as tagged_share
from tagged
inner join segments
    on
        tagged.city = segments.city
        and tagged.age_band = segments.age_band
        and tagged.risk_grade = segments.risk_grade
left join catalog
    on tagged.tag_code = catalog.tag_code
