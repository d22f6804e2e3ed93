-- Risk tags (family `risk`): KYC grade, leverage and credit-limit stress as of the lake's as-of date. Rules in
-- docs/dbt/tags.md; thresholds are the `tag_*` vars in dbt_project.yml.
with

features as (
    select * from {{ ref('int_customer_features_joined') }}
),

high_grade as (
    select
        {{ tag_assignment('RISK_HIGH_GRADE', [
            ['risk_grade', 'risk_grade', 'text'],
        ], value='risk_grade') }}
    from features
    where
        risk_grade in ('{{ var("tag_high_risk_grades") | join("', '") }}')  -- noqa: LT05
),

high_leverage as (
    select
        {{ tag_assignment('RISK_HIGH_LEVERAGE', [
            ['loan_balance_twd', 'loan_balance_twd', 'amount'],
            ['assets_under_management_twd', 'assets_under_management_twd', 'amount'],
        ]) }}
    from features
    where
        loan_balance_twd >= {{ var('tag_leverage_min_loan_twd') }}
        and loan_balance_twd >= {{ var('tag_leverage_min_loan_to_assets') }} * assets_under_management_twd
),

limit_stress as (
    select
        {{ tag_assignment('RISK_LIMIT_STRESS', [
            ['limit_utilisation_30d', 'spend_30d_twd / credit_limit_twd', 'amount'],
        ]) }}
    from features
    where
        credit_limit_twd > 0
        and spend_30d_twd >= {{ var('tag_limit_stress_min_utilisation') }} * credit_limit_twd
),

assigned as (
    select * from high_grade
    union all
    select * from high_leverage
    union all
    select * from limit_stress
)

select * from assigned
