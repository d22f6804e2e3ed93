{#- One row per key of `relation`: the first by `order_by` (`col [asc|desc], …`). Columns: those of the relation
    plus `dedup_rank` (always 1), which the caller leaves out of its select. The order columns must never be null
    in `relation` (every caller orders by required columns of accepted rows); ties are broken arbitrarily on every
    engine, as row_number() breaks them. -#}
{% macro deduplicated(relation, key_columns, order_by) %}
    {{- return(adapter.dispatch('deduplicated', 'taglake')(relation, key_columns, order_by)) -}}
{% endmacro %}

{#- Portable: a window over each key, filtered to its first row (no QUALIFY, which Athena lacks). -#}
{% macro default__deduplicated(relation, key_columns, order_by) -%}
    select *
    from (
        select
            {{ relation }}.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by {{ order_by }}
            ) as dedup_rank
        from {{ relation }}
    ) as ranked
    where dedup_rank = 1
{%- endmacro %}

{#- DuckDB: one hash aggregation instead of a sorted window, when every order column runs the same way. The
    relation's name is its row as a struct; arg_max / arg_min keeps the whole first row of each key, compared on
    the order columns as one row value, and unnest spreads it back into the relation's columns. -#}
{% macro duckdb__deduplicated(relation, key_columns, order_by) -%}
    {%- set columns = [] -%}
    {%- set directions = [] -%}
    {%- for term in order_by.split(',') -%}
        {%- set words = term.strip().split() -%}
        {%- do columns.append(words[0]) -%}
        {%- do directions.append((words[1] if words | length == 2 else 'asc') | lower) -%}
        {%- if words | length > 2 -%}
            {%- do directions.append('nulls') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set direction = directions | unique | list -%}
    {%- if direction | length != 1 or direction[0] not in ('asc', 'desc') -%}
        {{- default__deduplicated(relation, key_columns, order_by) -}}
    {%- else -%}
    select
        unnest(first_row),
        1 as dedup_rank
    from (
        select {{ 'arg_max' if direction[0] == 'desc' else 'arg_min' }}(
            {{ relation }},
            {{ columns[0] if columns | length == 1 else 'row(' ~ (columns | join(', ')) ~ ')' }}
        ) as first_row
        from {{ relation }}
        group by {{ key_columns | join(', ') }}
    ) as firsts
    {%- endif -%}
{%- endmacro %}
