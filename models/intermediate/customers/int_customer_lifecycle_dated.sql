-- Per customer: the dates of their life with the bank — since when, first and last card use, last app use, and
-- closure.
with

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

card_use as (
    select
        customer_token,
        min(transaction_date) as first_transaction_date,
        max(transaction_date) as last_transaction_date
    from {{ ref('stg_cards__transactions') }}
    group by customer_token
),

app_use as (
    select
        customer_token,
        max(cast(event_at as date)) as last_app_event_date
    from {{ ref('stg_digital__app_events') }}
    group by customer_token
)

select
    customers.customer_token,
    customers.customer_since_date,
    card_use.first_transaction_date,
    card_use.last_transaction_date,
    app_use.last_app_event_date,
    customers.customer_status = 'closed' as is_closed,
    case when customers.customer_status = 'closed' then cast(customers.updated_at as date) end as closed_date
from customers
left join card_use
    on customers.customer_token = card_use.customer_token
left join app_use
    on customers.customer_token = app_use.customer_token
