-- Digital tags (family `digital`): mobile-app activity as of the lake's as-of date. Rules in docs/dbt/tags.md;
-- thresholds are the `tag_*` vars in dbt_project.yml.
with

features as (
    select * from {{ ref('int_customer_features_joined') }}
),

digital_active as (
    select
        {{ tag_assignment('DIG_ACTIVE', [['app_active_days_30d', 'app_active_days_30d', 'count']]) }}
    from features
    where app_active_days_30d >= {{ var('tag_digital_active_min_days_30d') }}
),

app_dormant as (
    -- Only customers who have used the app: never having used it is not dormancy.
    select
        {{ tag_assignment('DIG_APP_DORMANT', [['days_since_last_app_event', 'days_since_last_app_event', 'count']]) }}
    from features
    where
        not is_closed
        and days_since_last_app_event >= {{ var('tag_app_dormant_min_days') }}
),

assigned as (
    select * from digital_active
    union all
    select * from app_dormant
)

select * from assigned
