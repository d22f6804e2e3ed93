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


{#- The distinct values of several expressions of `relation` in one pass: a column per entry of `columns` (name →
    expression), each row holding one expression's value and null in the others (each row of `relation` taken once
    per expression; a row of nulls where a value is null, which readers filter out). Where a model needs the distinct
    values of a few columns (token_lookup, free_text_guard_ctes), one read of its lines gives them all: three reads
    of one CTE would make DuckDB copy every row of it first (not_materialized). Portable SQL (DuckDB, Trino,
    Redshift); GROUPING SETS would say it too, but the linter's DuckDB grammar does not parse it. -#}
{% macro distinct_values_by_column(relation, columns) -%}
    select distinct
        {%- for name, expr in columns.items() %}
        case when value_columns.n = {{ loop.index }} then {{ expr }} end as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    cross join (
        {%- for name in columns %}
        select {{ loop.index }} as n{{ ' union all' if not loop.last }}
        {%- endfor %}
    ) as value_columns
{%- endmacro %}
