{#- Rows written once, straight from a model's query into its table, on DuckDB. dbt-duckdb's incremental
    materialization builds a temporary relation of the model's query before it asks the strategy for its SQL; for a
    model configured `meta: {insert_from_query: true}` (duckdb__landing_partition_incremental) that relation is a
    temporary view (duckdb__create_table_as, macros/engines/table_storage.sql, calls query_view_as), and the append
    inserts from it: the rows are computed once and written once, into the table, instead of into a temporary table
    first and copied from it (the copy cost about a third of such a model's run: docs/performance.md). Only for a
    query that reads its own table through not_landed_before_window alone (the rows landed before the window): the
    model's pre-hook has already deleted the window's rows when the view is read. -#}

{#- Whether the model being built writes an incremental run's rows from its query (a boolean). -#}
{% macro inserts_from_query() %}
    {{- return((config.get('meta') or {}).get('insert_from_query', false)) -}}
{% endmacro %}

{#- The temporary view of the model's query that stands for dbt-duckdb's temporary table; a query that reads the
    model's own table other than through not_landed_before_window stops the build with the model named. -#}
{% macro query_view_as(relation, compiled_code) -%}
    {%- set own_table = this | string -%}
    {%- if compiled_code.count(own_table) != compiled_code.count(own_table ~ ' as landed_before_window') -%}
        {{ exceptions.raise_compiler_error(
            model.name ~ ' is configured insert_from_query but its query reads its own table other than through '
            ~ 'not_landed_before_window: its pre-hook has deleted the window rows the query would read') }}
    {%- endif -%}
    {{ temporary_view_as(relation, compiled_code) }}
{%- endmacro %}
