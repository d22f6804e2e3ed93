-- How many customers were in each risk grade and status at a moment in the past? From the customer attribute
-- history, as of var `as_of` (default the start of 2026-10-25 UTC):
-- `dbt compile --select customer_attributes_as_of --vars '{as_of: "2026-10-28"}'`.
with

as_of as (
    {{ customer_attributes_as_of("cast('" ~ var('as_of', '2026-10-25') ~ "' as timestamp)") }}
)

select
    risk_grade,
    customer_status,
    count(*) as customer_count
from as_of
group by risk_grade, customer_status
order by risk_grade, customer_status
