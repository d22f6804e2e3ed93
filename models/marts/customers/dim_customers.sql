-- One row per customer token, generalised attributes only: what analysts segment by. No identity, no contact.
with

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

holdings as (
    select * from {{ ref('int_product_holdings_pivoted') }}
),

lifecycle as (
    select * from {{ ref('int_customer_lifecycle_dated') }}
)

select
    customers.customer_token,
    customers.gender,
    customers.city,
    customers.district,
    customers.home_branch_code,
    customers.risk_grade,
    customers.customer_status,
    customers.customer_since_date,
    lifecycle.is_closed,
    lifecycle.closed_date,
    lifecycle.first_transaction_date,
    lifecycle.last_transaction_date,
    lifecycle.last_app_event_date,
    cast(customers.birth_year as integer) as birth_year,
    customers.age_band,
    cast(coalesce(holdings.open_account_count, 0) as integer) as open_account_count,
    cast(coalesce(holdings.assets_under_management_twd, 0) as decimal(18, 2)) as assets_under_management_twd,
    cast(coalesce(holdings.loan_balance_twd, 0) as decimal(18, 2)) as loan_balance_twd,
    coalesce(holdings.credit_card_account_count, 0) > 0 as has_credit_card,
    customers.mobile_token is not null as has_mobile,
    customers.email_token is not null as has_email
from customers
left join holdings
    on customers.customer_token = holdings.customer_token
left join lifecycle
    on customers.customer_token = lifecycle.customer_token
