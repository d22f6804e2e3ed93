{#- The first date from which an incremental run of fct_tag_transitions recomputes customers: every customer with a
    version of `snapshot` (snap_customer_tags) dated on or after it, or with a deletion record, is recomputed whole.
    It is the newest transition date the model's table holds among customers never withdrawn.

    Why that is enough: a version is dated by the as-of date of the run that recorded it (`updated_at: as_of_date`),
    and the as-of date (the lake's newest landing day) never goes back, so a version recorded since the table was
    built is dated on or after the as-of dates of every version the table already holds. A deletion record is the
    one exception — dbt dates it by the run's clock (docs/daily-runs.md) — so the customers with one are recomputed
    on every run (customers withdrawn from the CRM: few) and their transitions, which may carry such a date, are
    left out of the newest. A day whose versions changed no tag only makes the date older: more customers are
    recomputed, never fewer. None — every customer — on a first build, a full refresh, an empty table, or compiled
    without introspection (offline). -#}
{% macro tag_history_recorded_since(snapshot) %}
    {%- if not execute or not flags.INTROSPECT or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set sql -%}
        select max(transition_date) from {{ this }}
        where customer_token not in (select customer_token from {{ snapshot }} where dbt_is_deleted = 'True')
    {%- endset -%}
    {%- set newest = run_query(sql).columns[0].values()[0] -%}
    {%- if newest is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(modules.datetime.date.fromisoformat((newest | string)[:10])) }}
{% endmacro %}
