{#- One row per key of `relation`: the first by `order_by` (`col [asc|desc], …`). Columns: those of the relation
    plus `dedup_rank` (always 1), which the caller leaves out of its select. The order columns must never be null
    in `relation` (every caller orders by required columns of accepted rows); ties are broken arbitrarily on every
    engine, as row_number() breaks them.

    A window on every engine, DuckDB included. An arg_max aggregation per key (over a struct of the kept columns)
    was 1.5× faster for the latest score at the medium scale, but its per-key states hold strings outside DuckDB's
    buffer manager and cannot spill: under a memory_limit it stops with "Out of Memory" (at the large scale, 4 GB),
    where the window's sort spills to disk and finishes. -#}
{% macro deduplicated(relation, key_columns, order_by) %}
    {{- return(adapter.dispatch('deduplicated', 'taglake')(relation, key_columns, order_by)) -}}
{% endmacro %}

{#- A window over each key, filtered to its first row (no QUALIFY, which Athena lacks). -#}
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
