-- Per month, tag and segment (city, age band, KYC risk grade): the tag population on the month's last as-of date
-- in the history, for monthly dashboards and reports. Read off the daily aggregate, so the two always agree.
with

daily as (
    select * from {{ ref('agg_tag_population_daily') }}
),

month_ends as (
    select
        {{ dbt.date_trunc('month', 'as_of_date') }} as population_month,
        max(as_of_date) as as_of_date
    from daily
    group by {{ dbt.date_trunc('month', 'as_of_date') }}
)

select
    cast(month_ends.population_month as date) as population_month,
    daily.as_of_date,
    daily.tag_code,
    daily.tag_family,
    daily.city,
    daily.age_band,
    daily.risk_grade,
    daily.tagged_customer_count,
    daily.segment_customer_count,
    daily.tagged_share
from daily
inner join month_ends
    on daily.as_of_date = month_ends.as_of_date
