-- Per customer: the dates of their life with the bank — since when, first and last card use, last app use, and
-- closure. landed_through: the newest landing date of the customer's record, card transactions and app events.
-- The card and app dates are int_customer_usage_dated's (per token, over every staged transaction and event).
-- Incremental (merge on the customer, docs/daily-runs.md): a run recomputes the customers a row landed from
-- landing_window_start('landed_through') on touches: a CRM version landed in the window, or card use or app use
-- landed in it (the usage row's own landed_through). Their dates are read whole from the usage table, which holds
-- every row's dates however early they landed, so a new CRM record whose card use landed before it is dated as a full
-- build dates it.
{{ config(**keyed_incremental(['customer_token'])) }}
{%- set since = landing_window_start('landed_through') %}

with

customers as {{ not_materialized() }} (
    select * from {{ ref('stg_crm__customers') }}
),

use_dates as {{ not_materialized() }} (
    select * from {{ ref('int_customer_usage_dated') }}
),

{%- if since %}

touched as (
    select customer_token
    from customers
    where {{ landed_since(since) }}
    union
    select customer_token
    from use_dates
    where {{ landed_since(since, 'landed_through') }}
),

in_window as (
    select customers.*
    from customers
    inner join touched
        on customers.customer_token = touched.customer_token
)
{%- else %}

in_window as (
    select * from customers
)
{%- endif %}

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
