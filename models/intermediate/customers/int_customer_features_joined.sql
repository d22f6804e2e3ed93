-- One row per customer: every generalised attribute, holding, spend window, app-use and model-score figure the
-- tag rules and the training features read, as of the lake's as-of date. Masked and generalised inputs only.
with

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

as_of as (
    select as_of_date from {{ ref('int_landing_days_summarized') }}
),

holdings as (
    select * from {{ ref('int_product_holdings_pivoted') }}
),

lifecycle as (
    select * from {{ ref('int_customer_lifecycle_dated') }}
),

spend as (
    select * from {{ ref('int_card_spend_windowed') }}
),

app as (
    select * from {{ ref('int_app_activity_summarized') }}
),

scores as (
    select
        customer_token,
        max(case when model_name = 'churn_propensity' then score end) as churn_propensity_score,
        max(case when model_name = 'wealth_propensity' then score end) as wealth_propensity_score,
        max(case when model_name = 'card_upsell_propensity' then score end) as card_upsell_propensity_score
    from {{ ref('int_model_scores_latest') }}
    group by customer_token
),

joined as (
    select
        customers.customer_token,
        as_of.as_of_date,
        customers.gender,
        customers.city,
        customers.age_band,
        customers.risk_grade,
        customers.customer_since_date,
        lifecycle.is_closed,
        lifecycle.closed_date,
        lifecycle.last_transaction_date,
        lifecycle.last_app_event_date,
        scores.churn_propensity_score,
        scores.wealth_propensity_score,
        scores.card_upsell_propensity_score,
        coalesce(holdings.open_account_count, 0) as open_account_count,
        coalesce(holdings.dormant_account_count, 0) as dormant_account_count,
        (
            case when coalesce(holdings.deposit_account_count, 0) > 0 then 1 else 0 end
            + case when coalesce(holdings.credit_card_account_count, 0) > 0 then 1 else 0 end
            + case when coalesce(holdings.loan_account_count, 0) > 0 then 1 else 0 end
            + case when coalesce(holdings.wealth_account_count, 0) > 0 then 1 else 0 end
            + case when coalesce(holdings.insurance_account_count, 0) > 0 then 1 else 0 end
        ) as product_type_count,
        coalesce(holdings.assets_under_management_twd, 0) as assets_under_management_twd,
        coalesce(holdings.loan_balance_twd, 0) as loan_balance_twd,
        coalesce(holdings.credit_limit_twd, 0) as credit_limit_twd,
        coalesce(spend.transaction_count_30d, 0) as transaction_count_30d,
        coalesce(spend.spend_30d_twd, 0) as spend_30d_twd,
        coalesce(spend.transaction_count_90d, 0) as transaction_count_90d,
        coalesce(spend.spend_90d_twd, 0) as spend_90d_twd,
        coalesce(spend.foreign_transaction_count_90d, 0) as foreign_transaction_count_90d,
        coalesce(spend.foreign_spend_90d_twd, 0) as foreign_spend_90d_twd,
        coalesce(spend.travel_spend_90d_twd, 0) as travel_spend_90d_twd,
        coalesce(spend.online_transaction_count_90d, 0) as online_transaction_count_90d,
        coalesce(spend.online_spend_90d_twd, 0) as online_spend_90d_twd,
        coalesce(spend.dining_transaction_count_90d, 0) as dining_transaction_count_90d,
        coalesce(app.active_days_30d, 0) as app_active_days_30d
    from customers
    cross join as_of
    left join holdings
        on customers.customer_token = holdings.customer_token
    left join lifecycle
        on customers.customer_token = lifecycle.customer_token
    left join spend
        on customers.customer_token = spend.customer_token
    left join app
        on customers.customer_token = app.customer_token
    left join scores
        on customers.customer_token = scores.customer_token
)

select
    *,
    {{ dbt.datediff('customer_since_date', 'as_of_date', 'day') }} as tenure_days,  -- noqa: LT05
    {{ dbt.datediff('last_transaction_date', 'as_of_date', 'day') }} as days_since_last_transaction,  -- noqa: LT05
    {{ dbt.datediff('last_app_event_date', 'as_of_date', 'day') }} as days_since_last_app_event,  -- noqa: LT05
    {{ dbt.datediff('closed_date', 'as_of_date', 'day') }} as days_since_closed  -- noqa: LT05
from joined
