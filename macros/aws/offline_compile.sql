{#- dbt's is_incremental(), except when compiling offline (var `offline_compile`, set by taglake.offline): then no
    connection exists to look the relation up, so the answer is the var `offline_incremental` (default false: the
    full-refresh SQL is what gets compiled and checked). Every other run gets dbt's own answer. -#}
{% macro is_incremental() %}
    {%- if execute and var('offline_compile', false) -%}
        {{- return(var('offline_incremental', false) and model.config.materialized == 'incremental') -}}
    {%- endif -%}
    {{- return(dbt.is_incremental()) -}}
{% endmacro %}
