{#- Keys that more than one row of a relation holds: the uniqueness tests' query (unique, unique_combination_of_columns)
    and deduplicated's first step on DuckDB; and the rows a windowed key test reads (rows_with_keys). -#}

{#- DuckDB: a 64-bit hash of the key, fixed width whatever the key's columns (64-character tokens, composite keys). -#}
{% macro key_hash(key_columns) -%}
    hash({{ key_columns | join(', ') }})
{%- endmacro %}

{#- DuckDB: the hashes (`repeated_key_hash`) of the keys that more than one row of `relation` (those `where` keeps)
    holds. A hash shared by two keys is listed too: a caller compares the key's own columns after it. -#}
{% macro repeated_key_hashes(relation, key_columns, where=none) -%}
    select {{ key_hash(key_columns) }} as repeated_key_hash
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    group by {{ key_hash(key_columns) }}
    having count(*) > 1
{%- endmacro %}

{#- One row per key of `relation` (the rows `where` keeps) that more than one row holds: the key's columns and
    `count_column`, the rows holding it. `by_hash=false`: the plain grouping on every engine (for a relation costly
    to read twice). Dispatched per engine. -#}
{% macro repeated_keys(relation, key_columns, where=none, count_column='duplicate_rows', by_hash=true) %}
    {{- return(adapter.dispatch('repeated_keys', 'taglake')(relation, key_columns, where, count_column, by_hash)) -}}
{% endmacro %}

{% macro default__repeated_keys(relation, key_columns, where=none, count_column='duplicate_rows', by_hash=true) -%}
    select
        {{ key_columns | join(', ') }},
        count(*) as {{ count_column }}
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    group by {{ key_columns | join(', ') }}
    having count(*) > 1
{%- endmacro %}

{#- DuckDB groups the keys' 64-bit hashes first, then the rows whose hash repeats by their own columns: nearly every
    key of a table that passes is held once, so the second grouping reads next to nothing, and grouping a fixed-width
    hash costs far less than grouping 64-character tokens or several columns (docs/performance.md, "Uniqueness tests
    by hash"). The result is the plain grouping's. `relation` is read twice. -#}
{% macro duckdb__repeated_keys(relation, key_columns, where=none, count_column='duplicate_rows', by_hash=true) -%}
    {%- if not by_hash -%}
    {{ return(default__repeated_keys(relation, key_columns, where, count_column)) }}
    {%- endif -%}
    {%- set repeated_hash = key_hash(key_columns) ~ ' in (select repeated_key_hash from repeated_key_hashes)' -%}
    with repeated_key_hashes as (
        {{ repeated_key_hashes(relation, key_columns, where) }}
    )

    {{ default__repeated_keys(relation, key_columns, '(' ~ where ~ ') and ' ~ repeated_hash if where else repeated_hash,
                              count_column) }}
{%- endmacro %}

{#- A uniqueness test's query: repeated_keys over the tested relation, by hash when the test reads its whole model (a
    full build). In a daily run's landing window (test_window_start) the relation is a subquery joining the window's
    keys to the whole table: reading it twice would run that join twice for the few rows it gives. -#}
{% macro key_test_query(model, key_columns, where=none, count_column='duplicate_rows') -%}
    {{ repeated_keys(model, key_columns, where, count_column, by_hash=test_window_start() is none) }}
{%- endmacro %}

{#- dbt's `unique` test on DuckDB (dispatch picks the root project's duckdb__test_unique over dbt's default): the same
    columns (unique_field, n_records) and rows, by key_test_query. -#}
{% macro duckdb__test_unique(model, column_name) -%}
    select
        {{ column_name }} as unique_field,
        n_records
    from (
        {{ key_test_query(model, [column_name], column_name ~ ' is not null', 'n_records') }}
    ) as repeated
{%- endmacro %}

{#- The rows of `relation` (as `tested`) whose key, `columns`, is among the rows `keys_where` keeps of it (as
    `landed`, joined `on`), each row once however many rows hold its key: a windowed key test's rows
    (get_where_subquery). Dispatched: a join to the window's distinct keys, a semi join on DuckDB. -#}
{% macro rows_with_keys(relation, columns, keys_where, on) %}
    {{- return(adapter.dispatch('rows_with_keys', 'taglake')(relation, columns, keys_where, on)) -}}
{% endmacro %}

{% macro default__rows_with_keys(relation, columns, keys_where, on) -%}
    select tested.* from {{ relation }} as tested
    inner join (
        select distinct {{ columns | join(', ') }} from {{ relation }} where {{ keys_where }}
    ) as landed on {{ on }}
{%- endmacro %}

{#- DuckDB: a semi join, whose hash table takes the window's keys as they come, without grouping them first (the
    staged scores' key test on a scoring day at the large scale, 2.9 M keys against 34.8 M rows: 1.45 -> 1.2 s). It
    keeps the join filter on the table's scan that an `=` join gets. -#}
{% macro duckdb__rows_with_keys(relation, columns, keys_where, on) -%}
    select tested.* from {{ relation }} as tested
    semi join (
        select {{ columns | join(', ') }} from {{ relation }} where {{ keys_where }}
    ) as landed on {{ on }}
{%- endmacro %}
