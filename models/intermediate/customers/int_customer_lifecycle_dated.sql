-- Per customer: the dates of their life with the bank — since when, first and last card use, last app use, and
-- closure. landed_through: the newest landing date of the customer's record, card transactions and app events.
-- Incremental (merge on the customer, docs/daily-runs.md): a run recomputes the customers a row landed from
-- landing_window_start('landed_through') on touches (a CRM version, a card transaction, an app event). Their first
-- and last dates are the earliest and latest of what the table holds for them and what the window's rows give:
-- staged transactions and events are never withdrawn, so that is what all of their rows give. A customer the table
-- does not hold yet (a new CRM record, whose card use may have landed before it) is read from all of their rows.
-- The three feeds are read where they are used (not_materialized): DuckDB would otherwise copy every row of a CTE
-- read twice before filtering it.
{{ config(**keyed_incremental(['customer_token'])) }}
{%- set since = landing_window_start('landed_through') %}

with

customers as {{ not_materialized() }} (
    select * from {{ ref('stg_crm__customers') }}
),

transactions as {{ not_materialized() }} (
    select * from {{ ref('stg_cards__transactions') }}
),

events as {{ not_materialized() }} (
    select * from {{ ref('stg_digital__app_events') }}
),

-- each feed's rows in the columns use_dates takes
transaction_dates as {{ not_materialized() }} (
    select
        customer_token,
        transaction_date as first_transaction_date,
        transaction_date as last_transaction_date,
        cast(null as date) as last_app_event_date,
        landing_date as landed_through
    from transactions
),

event_dates as {{ not_materialized() }} (
    select
        customer_token,
        cast(null as date) as first_transaction_date,
        cast(null as date) as last_transaction_date,
        cast(event_at as date) as last_app_event_date,
        landing_date as landed_through
    from events
),

{%- if since %}

touched as (
    select customer_token
    from customers
    where {{ landed_since(since) }}
    union
    select customer_token
    from transactions
    where {{ landed_since(since) }}
    union
    select customer_token
    from events
    where {{ landed_since(since) }}
),

held as (
    select held.*
    from {{ this }} as held
    inner join touched
        on held.customer_token = touched.customer_token
),

-- touched customers the table does not hold: every row of theirs is read
unheld as (
    select touched.customer_token
    from touched
    left join held
        on touched.customer_token = held.customer_token
    where held.customer_token is null
),

dated as (
    select * from transaction_dates
    where {{ landed_since(since, 'landed_through') }}
    union all
    select transaction_dates.*
    from transaction_dates
    inner join unheld
        on transaction_dates.customer_token = unheld.customer_token
    union all
    select * from event_dates
    where {{ landed_since(since, 'landed_through') }}
    union all
    select event_dates.*
    from event_dates
    inner join unheld
        on event_dates.customer_token = unheld.customer_token
    union all
    select
        customer_token,
        first_transaction_date,
        last_transaction_date,
        last_app_event_date,
        landed_through
    from held
),

in_window as (
    select customers.*
    from customers
    inner join touched
        on customers.customer_token = touched.customer_token
),
{%- else %}

dated as (
    select * from transaction_dates
    union all
    select * from event_dates
),

in_window as (
    select * from customers
),
{%- endif %}

use_dates as (
    select
        customer_token,
        min(first_transaction_date) as first_transaction_date,
        max(last_transaction_date) as last_transaction_date,
        max(last_app_event_date) as last_app_event_date,
        max(landed_through) as landed_through
    from dated
    group by customer_token
)

select
    in_window.customer_token,
    in_window.customer_since_date,
    use_dates.first_transaction_date,
    use_dates.last_transaction_date,
    use_dates.last_app_event_date,
    in_window.customer_status = 'closed' as is_closed,
    case when in_window.customer_status = 'closed' then cast(in_window.updated_at as date) end as closed_date,
    case
        when use_dates.landed_through is null or use_dates.landed_through < in_window.landing_date
            then in_window.landing_date
        else use_dates.landed_through
    end as landed_through
from in_window
left join use_dates
    on in_window.customer_token = use_dates.customer_token
