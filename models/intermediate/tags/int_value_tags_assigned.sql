-- Value tags (family `value`): who holds which value tag as of the lake's as-of date. One CTE per tag; the
-- rules are documented in docs/dbt/tags.md and their thresholds are the `tag_*` vars in dbt_project.yml.
with

features as (
    select * from {{ ref('int_customer_features_joined') }}
),

high_net_worth as (
    select
        {{ tag_assignment('VAL_HNW', [['assets_under_management_twd', 'assets_under_management_twd', 'amount']]) }}
    from features
    where assets_under_management_twd >= {{ var('tag_hnw_min_aum_twd') }}
),

mass_affluent as (
    select
        {{ tag_assignment('VAL_MASS_AFFLUENT', [
            ['assets_under_management_twd', 'assets_under_management_twd', 'amount'],
        ]) }}
    from features
    where
        assets_under_management_twd >= {{ var('tag_mass_affluent_min_aum_twd') }}
        and assets_under_management_twd < {{ var('tag_hnw_min_aum_twd') }}
),

multi_product as (
    select
        {{ tag_assignment('VAL_MULTI_PRODUCT', [['product_type_count', 'product_type_count', 'count']]) }}
    from features
    where product_type_count >= {{ var('tag_multi_product_min_types') }}
),

assigned as (
    select * from high_net_worth
    union all
    select * from mass_affluent
    union all
    select * from multi_product
)

select * from assigned
