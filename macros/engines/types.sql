{#- A 64-bit floating-point type for casts: `double precision` (DuckDB, Redshift, the SQL standard); Athena's DML
    (Trino) spells it `double`. -#}
{% macro type_double() %}
    {{- return(adapter.dispatch('type_double', 'taglake')()) -}}
{% endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{% macro athena__type_double() -%}
    double
{%- endmacro %}
