{#- One row per key of `relation`: the first by `order_by` (`col [asc|desc], …`). Columns: those of the relation
    (or, where a DuckDB caller names `columns`, at least the key and those) plus `dedup_rank` (always 1), which the
    caller leaves out of its select. The order columns must never be null
    in `relation` (every caller orders by required columns of accepted rows); ties are broken arbitrarily on every
    engine, as row_number() breaks them. -#}
{% macro deduplicated(relation, key_columns, order_by, columns=none) %}
    {{- return(adapter.dispatch('deduplicated', 'taglake')(relation, key_columns, order_by, columns)) -}}
{% endmacro %}

{#- Portable: a window over each key, filtered to its first row (no QUALIFY, which Athena lacks). -#}
{% macro default__deduplicated(relation, key_columns, order_by, columns=none) -%}
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

{#- DuckDB, when the caller names the `columns` it keeps and every order column runs the same way: one hash
    aggregation instead of a sorted window. arg_max / arg_min keeps those columns of the first row of each key (as
    one struct, compared on the order columns as one row value) and the struct is spread back into columns. Measured
    on the medium lake, this pays where a key has many rows (the latest score: 1.5× faster) and costs where keys are
    nearly unique (the whole row carried through the aggregation: 2× slower than the window), so it is the caller's
    choice. -#}
{% macro duckdb__deduplicated(relation, key_columns, order_by, columns=none) -%}
    {%- set order_columns = [] -%}
    {%- set directions = [] -%}
    {%- for term in order_by.split(',') -%}
        {%- set words = term.strip().split() -%}
        {%- do order_columns.append(words[0]) -%}
        {%- do directions.append((words[1] if words | length == 2 else 'asc') | lower) -%}
        {%- if words | length > 2 -%}
            {%- do directions.append('nulls') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set direction = directions | unique | list -%}
    {%- if columns is none or direction | length != 1 or direction[0] not in ('asc', 'desc') -%}
        {{- default__deduplicated(relation, key_columns, order_by) -}}
    {%- else -%}
    {%- set kept = columns | reject('in', key_columns) | list -%}
    select
        {%- for column in key_columns %}
        {{ column }},
        {%- endfor %}
        {%- for column in kept %}
        first_row.{{ column }},
        {%- endfor %}
        1 as dedup_rank
    from (
        select
            {%- for column in key_columns %}
            {{ column }},
            {%- endfor %}
            {{ 'arg_max' if direction[0] == 'desc' else 'arg_min' }}(
                struct_pack({{ kept | join(', ') }}),
                {{ order_columns[0] if order_columns | length == 1 else 'row(' ~ (order_columns | join(', ')) ~ ')' }}
            ) as first_row
        from {{ relation }}
        group by {{ key_columns | join(', ') }}
    ) as firsts
    {%- endif -%}
{%- endmacro %}
