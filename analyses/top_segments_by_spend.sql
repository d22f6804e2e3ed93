-- Which segments (city × age band) spend the most on cards in the latest month of the lake, and how much per
-- customer? The ten largest by total spend.
with

metrics as (
    select * from {{ ref('fct_customer_monthly_metrics') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

latest_month as (
    select max(spend_month) as spend_month from metrics
)

select
    customers.city,
    customers.age_band,
    count(distinct metrics.customer_token) as spending_customers,
    sum(metrics.spend_twd) as spend_twd,
    sum(metrics.spend_twd) / count(distinct metrics.customer_token) as spend_per_customer_twd,
    sum(metrics.foreign_spend_twd) as foreign_spend_twd
from metrics
inner join latest_month
    on metrics.spend_month = latest_month.spend_month
inner join customers
    on metrics.customer_token = customers.customer_token
group by customers.city, customers.age_band
order by spend_twd desc
limit 10
