{#- Fails (one row) unless the model has exactly as many rows as a raw source table: nothing was dropped. -#}
{% test row_count_equals_source(model, source_name, table_name) %}
with counts as (
    select
        (select count(*) from {{ model }}) as model_rows,
        (select count(*) from {{ source(source_name, table_name) }}) as source_rows
)

select * from counts
where model_rows <> source_rows
{% endtest %}
