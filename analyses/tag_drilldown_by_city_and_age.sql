-- Where does one tag concentrate? For the tag in `--vars '{tag_code: …}'` (default VAL_MASS_AFFLUENT), the share
-- of customers holding it per city and age band on the latest as-of date, largest segments first.
{% set tag_code = var('tag_code', 'VAL_MASS_AFFLUENT') %}
with

population as (
    select * from {{ ref('agg_tag_population_daily') }}
    where tag_code = '{{ tag_code }}'
),

latest as (
    select max(as_of_date) as as_of_date from population
)

select
    population.city,
    population.age_band,
    sum(population.tagged_customer_count) as tagged_customer_count,
    sum(population.segment_customer_count) as segment_customer_count,
    cast(sum(population.tagged_customer_count) as {{ type_double() }})
    / sum(population.segment_customer_count) as tagged_share
from population
inner join latest
    on population.as_of_date = latest.as_of_date
group by population.city, population.age_band
order by tagged_customer_count desc, population.city asc, population.age_band asc
