-- How many customers hold each tag, day by day? One row per as-of date and tag, with the share of all customers.
-- Each daily run adds a day; filter on tag_family or tag_code for one chart line per tag.
with

population as (
    select * from {{ ref('agg_tag_population_daily') }}
),

customers as (
    select count(*) as customer_count from {{ ref('dim_customers') }}
)

select
    population.as_of_date,
    population.tag_family,
    population.tag_code,
    sum(population.tagged_customer_count) as tagged_customer_count,
    cast(sum(population.tagged_customer_count) as {{ type_double() }})
    / max(customers.customer_count) as share_of_customers
from population
cross join customers
group by population.as_of_date, population.tag_family, population.tag_code
order by population.as_of_date, population.tag_family, population.tag_code
