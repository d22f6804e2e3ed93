-- Card-behaviour tags (family `card`): spend patterns over the last 30 and 90 days to the lake's as-of date.
-- Rules in docs/dbt/tags.md; thresholds are the `tag_*` vars in dbt_project.yml.
with

features as (
    select * from {{ ref('int_customer_features_joined') }}
),

heavy_spender as (
    select
        {{ tag_assignment('CARD_HEAVY_SPENDER', [['spend_30d_twd', 'spend_30d_twd', 'amount']]) }}
    from features
    where spend_30d_twd >= {{ var('tag_heavy_spender_min_spend_30d_twd') }}
),

overseas_spender as (
    select
        {{ tag_assignment('CARD_OVERSEAS_SPENDER', [
            ['foreign_spend_90d_twd', 'foreign_spend_90d_twd', 'amount'],
            ['foreign_transaction_count_90d', 'foreign_transaction_count_90d', 'count'],
        ]) }}
    from features
    where
        foreign_spend_90d_twd >= {{ var('tag_overseas_min_foreign_spend_90d_twd') }}
        and foreign_transaction_count_90d >= {{ var('tag_overseas_min_foreign_transactions_90d') }}
),

travel_lover as (
    select
        {{ tag_assignment('CARD_TRAVEL_LOVER', [['travel_spend_90d_twd', 'travel_spend_90d_twd', 'amount']]) }}
    from features
    where travel_spend_90d_twd >= {{ var('tag_travel_min_spend_90d_twd') }}
),

online_shopper as (
    select
        {{ tag_assignment('CARD_ONLINE_SHOPPER', [
            ['online_share_90d', 'online_spend_90d_twd / spend_90d_twd', 'amount'],
            ['online_transaction_count_90d', 'online_transaction_count_90d', 'count'],
        ]) }}
    from features
    where
        spend_90d_twd > 0
        and online_spend_90d_twd >= {{ var('tag_online_min_share_90d') }} * spend_90d_twd
        and online_transaction_count_90d >= {{ var('tag_online_min_transactions_90d') }}
),

dining_lover as (
    select
        {{ tag_assignment('CARD_DINING_LOVER', [
            ['dining_transaction_count_90d', 'dining_transaction_count_90d', 'count'],
        ]) }}
    from features
    where dining_transaction_count_90d >= {{ var('tag_dining_min_transactions_90d') }}
),

assigned as (
    select * from heavy_spender
    union all
    select * from overseas_spender
    union all
    select * from travel_lover
    union all
    select * from online_shopper
    union all
    select * from dining_lover
)

select * from assigned
