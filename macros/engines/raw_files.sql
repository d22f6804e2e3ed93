{#- The landing date of a raw row, from its year/month/day partition columns (portable SQL, see the var). -#}
{% macro landing_date() -%}
    cast({{ var('raw_landed_at') }} as date)
{%- endmacro %}
