{#- One row per key of `relation`: the first by `order_by`. Portable (no QUALIFY, which Athena lacks). Columns:
    those of the relation plus `dedup_rank`, which the caller leaves out of its select. -#}
{% macro deduplicated(relation, key_columns, order_by) -%}
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
