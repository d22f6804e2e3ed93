{#- A CTE that a model reads twice, once whole and once for the distinct values of a column or two (token_lookup,
    free_text_guard_ctes): `source as {{ not_materialized() }} (`. DuckDB materializes a CTE read more than once,
    every column of every row, in memory and then on disk; read from the files twice instead, the distinct branch
    reads the columns it needs only (a Parquet column, a CSV column) and nothing is held. Athena and Redshift plan
    CTEs themselves and have no such keyword. -#}
{% macro not_materialized() %}
    {{- return(adapter.dispatch('not_materialized', 'taglake')()) -}}
{% endmacro %}

{% macro default__not_materialized() -%}
{%- endmacro %}

{% macro duckdb__not_materialized() -%}
    not materialized
{%- endmacro %}
