{#- Incremental processing by landing partition (docs/daily-runs.md).

    A run reprocesses the landing partitions from `landing_window_start()` on: the newest landing date the model
    already holds minus `late_arrival_lookback_days`. The start is read from the model's own table, so a model a
    killed run left behind catches up by itself on the next run. On a first build or a full refresh there is no
    window (none): the model reads everything. Compiled without introspection (`dbt compile --no-introspect`, how
    the AWS targets compile offline) nothing is asked of the database, and the model compiles as a first build. -#}
{% macro landing_window_start(column='landing_date') %}
    {%- if not execute or not flags.INTROSPECT -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set latest = none -%}
    {%- if is_incremental() -%}
        {%- set result = run_query('select max(' ~ column ~ ') from ' ~ this) -%}
        {%- set latest = result.columns[0].values()[0] -%}
    {%- endif -%}
    {%- set start = none if latest is none
        else window_from_newest(modules.datetime.date.fromisoformat((latest | string)[:10])) -%}
    {#- A daily run's tests and privacy guard check the window the runner passed (run_window_start): it must be
        the one this run rewrites, so a window that is not (a table that moved on, a model the runner saw built
        that is now built from scratch, a date typed by hand) stops the model before it writes. -#}
    {%- set passed = run_window_start(model.name) -%}
    {%- if passed is not none and passed != start -%}
        {{ exceptions.raise_compiler_error(
            'TAGLAKE_RUN_WINDOW: ' ~ model.name ~ ' would check from ' ~ passed ~ ' but this run rewrites '
            ~ ('every landing day' if start is none else 'from ' ~ start)
            ~ '; run it through taglake run-daily, which reads the window from the tables') }}
    {%- endif -%}
    {{ return(start) }}
{% endmacro %}

{#- The first landing date a run reprocesses when the newest it held was `newest` (a date): the one place the
    lookback is applied, for the models (landing_window_start) and for what tests and the guard check in a daily
    run (run_window_start). -#}
{% macro window_from_newest(newest) %}
    {%- set lookback = var('late_arrival_lookback_days') | int -%}
    {{ return(newest - modules.datetime.timedelta(days=lookback)) }}
{% endmacro %}

{#- A predicate on the raw partition columns (year/month/day) that keeps partitions landed on or after `start`.
    Integer arithmetic on the partition columns only, so every engine prunes files/partitions before reading. -#}
{% macro raw_partitions_since(start) -%}
    year * 10000 + month * 100 + day >= {{ start.strftime('%Y%m%d') }}
{%- endmacro %}

{#- A predicate keeping rows whose `column` (a date) is on or after `start`. -#}
{% macro landed_since(start, column='landing_date') -%}
    {{ column }} >= cast('{{ start.isoformat() }}' as date)
{%- endmacro %}
{#- The landing date of a raw row, from its year/month/day partition columns (portable SQL, see the var). -#}
{% macro landing_date() -%}
    cast({{ var('raw_landed_at') }} as date)
{%- endmacro %}
