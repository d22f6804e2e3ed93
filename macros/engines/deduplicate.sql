{#- One row per key of `relation`: the first by `order_by` (`col [asc|desc], …`). Columns: those of the relation
    plus `dedup_rank` (always 1), which the caller leaves out of its select. The order columns must never be null
    in `relation` (every caller orders by required columns of accepted rows); ties are broken arbitrarily on every
    engine, as row_number() breaks them.

    A window on every engine, DuckDB included. An arg_max aggregation per key (over a struct of the kept columns)
    was 1.5× faster for the latest score at the medium scale, but its per-key states hold strings outside DuckDB's
    buffer manager and cannot spill: under a memory_limit it stops with "Out of Memory" (at the large scale, 4 GB),
    where the window's sort spills to disk and finishes.

    `few_repeated=true` says nearly every key holds one row (a feed's IDs, where only a duplicate landing repeats
    one). DuckDB then ranks only the rows of the keys that repeat (duckdb__deduplicated); `relation` is read three
    times and must be a table or a CTE declared `{{ not_materialized() }}`, as must every CTE it reads, or DuckDB
    copies it whole before the first read. -#}
{% macro deduplicated(relation, key_columns, order_by, few_repeated=false) %}
    {{- return(adapter.dispatch('deduplicated', 'taglake')(relation, key_columns, order_by, few_repeated)) -}}
{% endmacro %}

{#- A window over each key, filtered to its first row (no QUALIFY, which Athena lacks). -#}
{% macro default__deduplicated(relation, key_columns, order_by, few_repeated=false) -%}
    {{ first_by_window(relation, key_columns, order_by) }}
{%- endmacro %}

{#- The first row of each key of `relation` by a row_number window, over the rows `where` keeps (all without). -#}
{% macro first_by_window(relation, key_columns, order_by, where=none) -%}
    select *
    from (
        select
            {{ relation }}.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by {{ order_by }}
            ) as dedup_rank
        from {{ relation }}
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ) as ranked
    where dedup_rank = 1
{%- endmacro %}

{#- With `few_repeated`: the keys holding more than one row, found by a grouping of a 64-bit hash of the key
    (repeated_key_hashes: a fixed-width value, cheap to group even for 64-character tokens), and the window over their
    rows alone; every other row passes with rank 1, unsorted. A hash shared by two keys only sends both to the window,
    which ranks by the key's own columns: the result is the window's. At the large scale (31.9 M staged scores, 2
    threads) 17 CPU-s against the window's 31 (docs/performance.md). -#}
{% macro duckdb__deduplicated(relation, key_columns, order_by, few_repeated=false) -%}
    {%- if not few_repeated -%}
    {{ default__deduplicated(relation, key_columns, order_by) }}
    {%- else -%}
    {%- set repeated_hashes = '(select dedup_repeated.repeated_key_hash from dedup_repeated)' %}
    with dedup_repeated as (
        {{ repeated_key_hashes(relation, key_columns) }}
    )

    select
        {{ relation }}.*,
        cast(1 as bigint) as dedup_rank
    from {{ relation }}
    where {{ key_hash(key_columns) }} not in {{ repeated_hashes }}
    union all
    {{ first_by_window(relation, key_columns, order_by, key_hash(key_columns) ~ ' in ' ~ repeated_hashes) }}
    {%- endif %}
{%- endmacro %}
