{#- The customers as they were at `as_of` (a SQL timestamp expression): one row per customer who existed then,
    with the generalised attributes that held at that moment. Periods are [valid_from, valid_to). -#}
{% macro customer_attributes_as_of(as_of) -%}
    select *
    from {{ ref('customer_attribute_history') }}
    where
        valid_from <= {{ as_of }}
        and (valid_to > {{ as_of }} or valid_to is null)
{%- endmacro %}

{#- The lake's as-of date: the newest landing day of any raw table, as one row with `as_of_date`. Every tag window
    and day count counts back from it, so a rebuild of the same lake gives the same tags. -#}
{% macro lake_as_of_date() -%}
    select max(landing_date) as as_of_date from {{ ref('int_raw_rows_classified') }}
{%- endmacro %}
