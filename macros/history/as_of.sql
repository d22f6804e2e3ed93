{#- The customers as they were at `as_of` (a SQL timestamp expression): one row per customer who existed then,
    with the generalised attributes that held at that moment. Periods are [valid_from, valid_to). -#}
{% macro customer_attributes_as_of(as_of) -%}
    select *
    from {{ ref('dim_customer_attribute_history') }}
    where
        valid_from <= {{ as_of }}
        and (valid_to > {{ as_of }} or valid_to is null)
{%- endmacro %}
