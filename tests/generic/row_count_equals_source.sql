{#- Fails (one row) unless the model has exactly as many rows as a raw source table: nothing was dropped. In a daily
    run (`taglake run-daily`, which passes each incremental model's window: run_window_start) both sides are counted
    from the window's first landing day on — the raw partitions the run read, the model rows landed in them — since
    the run rewrote exactly those; every earlier day was counted by the run that wrote it. Without a window (a full
    build, any other `dbt build`) both whole tables are counted. The raw side is read as the base model reads it
    (raw_source: on DuckDB a CSV extract's window is the list of its partitions' files, not a glob whose every file
    would be sniffed first). -#}
{% test row_count_equals_source(model, source_name, table_name) %}
{%- set since = run_window_start(model.identifier if model is not string else none) -%}
with counts as (
    select
        (
            select count(*) from {{ model }}
            {%- if since is not none %}
            where {{ landed_since(since) }}
            {%- endif %}
        ) as model_rows,
        (
            select count(*) from {{ raw_source(source_name, table_name, since) }}
            {%- if since is not none %}
            where {{ raw_partitions_since(since) }}
            {%- endif %}
        ) as source_rows
)

select * from counts
where model_rows <> source_rows
{% endtest %}
