-- Lifecycle tags (family `lifecycle`): new, dormant and closing customers as of the lake's as-of date. Rules in
-- docs/dbt/tags.md; thresholds are the `tag_*` vars in dbt_project.yml.
with

features as (
    select * from {{ ref('int_customer_features_joined') }}
),

new_customer as (
    select
        {{ tag_assignment('LC_NEW', [['tenure_days', 'tenure_days', 'count']]) }}
    from features
    where
        not is_closed
        and tenure_days >= 0
        and tenure_days < {{ var('tag_new_customer_max_days') }}
),

dormant as (
    -- 靜止戶: every open account is marked dormant by core banking, and no card transaction and no app use for the
    -- set number of days (a channel never used counts from the start of the relationship).
    select
        {{ tag_assignment('LC_DORMANT', [
            ['dormant_account_count', 'dormant_account_count', 'count'],
            ['days_since_last_transaction', 'days_since_last_transaction', 'count'],
            ['days_since_last_app_event', 'days_since_last_app_event', 'count'],
        ]) }}
    from features
    where
        not is_closed
        and open_account_count > 0
        and dormant_account_count = open_account_count
        and coalesce(days_since_last_transaction, tenure_days) >= {{ var('tag_dormant_min_days') }}
        and coalesce(days_since_last_app_event, tenure_days) >= {{ var('tag_dormant_min_days') }}
),

closing as (
    select
        {{ tag_assignment('LC_CLOSING', [['days_since_closed', 'days_since_closed', 'count']]) }}
    from features
    where
        is_closed
        and days_since_closed >= 0
        and days_since_closed < {{ var('tag_closing_max_days') }}
),

assigned as (
    select * from new_customer
    union all
    select * from dormant
    union all
    select * from closing
)

select * from assigned
