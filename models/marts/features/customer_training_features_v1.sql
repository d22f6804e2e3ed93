-- One row per customer: masked and generalised features for model training as of the lake's as-of date — what
-- data scientists read (SageMaker, EMR). No identity, no contact detail, and no model score (a model must not
-- learn from another model's output by accident); join labels by customer_token.
with

features as (
    select * from {{ ref('int_customer_features_joined') }}
)

select
    customer_token,
    as_of_date,
    gender,
    city,
    age_band,
    risk_grade,
    is_closed,
    cast(tenure_days as integer) as tenure_days,
    cast(open_account_count as integer) as open_account_count,
    cast(product_type_count as integer) as product_type_count,
    cast(assets_under_management_twd as decimal(18, 2)) as assets_under_management_twd,
    cast(loan_balance_twd as decimal(18, 2)) as loan_balance_twd,
    cast(credit_limit_twd as decimal(18, 2)) as credit_limit_twd,
    cast(transaction_count_30d as integer) as transaction_count_30d,
    cast(spend_30d_twd as decimal(18, 2)) as spend_30d_twd,
    cast(transaction_count_90d as integer) as transaction_count_90d,
    cast(spend_90d_twd as decimal(18, 2)) as spend_90d_twd,
    cast(
        case when spend_90d_twd > 0 then foreign_spend_90d_twd / spend_90d_twd end as {{ type_double() }}
    ) as foreign_spend_share_90d,
    cast(
        case when spend_90d_twd > 0 then online_spend_90d_twd / spend_90d_twd end as {{ type_double() }}
    ) as online_spend_share_90d,
    cast(travel_spend_90d_twd as decimal(18, 2)) as travel_spend_90d_twd,
    cast(dining_transaction_count_90d as integer) as dining_transaction_count_90d,
    cast(app_active_days_30d as integer) as app_active_days_30d,
    cast(days_since_last_transaction as integer) as days_since_last_transaction,
    cast(days_since_last_app_event as integer) as days_since_last_app_event
from features
