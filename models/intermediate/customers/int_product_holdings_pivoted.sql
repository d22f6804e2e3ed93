-- Per customer: the products held (accounts not closed) by type, and balances in TWD. One row per customer with
-- at least one account.
-- Amounts are decimal(18, 2), the marts' type: a sum is decimal(38, 2) on DuckDB (128 bits a value), which costs
-- about three times as much to write (docs/performance.md).
with

accounts as (
    select * from {{ ref('stg_core_banking__accounts') }}
    where account_status <> 'closed'
),

pivoted as (
    select
        customer_token,
        count(*) as open_account_count,
        {%- for product in ['deposit', 'credit_card', 'loan', 'wealth', 'insurance'] %}
        count(case when product_type = '{{ product }}' then 1 end) as {{ product }}_account_count,
        {%- endfor %}
        sum(case when product_type = 'deposit' then balance_twd else 0 end) as deposit_balance_twd,
        sum(case when product_type = 'wealth' then balance_twd else 0 end) as wealth_balance_twd,
        sum(case when product_type = 'loan' then balance_twd else 0 end) as loan_balance_twd,
        sum(case when product_type = 'credit_card' then credit_limit_twd else 0 end) as credit_limit_twd,
        count(case when account_status = 'dormant' then 1 end) as dormant_account_count
    from accounts
    group by customer_token
)

select
    customer_token,
    open_account_count,
    deposit_account_count,
    credit_card_account_count,
    loan_account_count,
    wealth_account_count,
    insurance_account_count,
    dormant_account_count,
    cast(deposit_balance_twd as decimal(18, 2)) as deposit_balance_twd,
    cast(wealth_balance_twd as decimal(18, 2)) as wealth_balance_twd,
    cast(loan_balance_twd as decimal(18, 2)) as loan_balance_twd,
    cast(credit_limit_twd as decimal(18, 2)) as credit_limit_twd,
    cast(deposit_balance_twd + wealth_balance_twd as decimal(18, 2)) as assets_under_management_twd
from pivoted
