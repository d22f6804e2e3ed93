{#- Fails with one row per source whose newest landing day quarantined a spike: a rate far above the source's own
    history. The rule and its numbers are the var `quarantine_spike` (dbt_project.yml); docs/operations.md explains
    it. Reads a model with one row per source and landing day: rows landed and rows quarantined. -#}
{% test quarantine_rate_within_history(model, source_column='source_table', date_column='landing_date',
                                       landed_column='raw_rows', quarantined_column='quarantined_rows') %}
{%- set rule = var('quarantine_spike') %}

with

daily as (
    select
        {{ source_column }} as source_table,
        {{ date_column }} as landing_date,
        {{ landed_column }} as landed_rows,
        {{ quarantined_column }} as quarantined_rows
    from {{ model }}
),

newest as (
    select
        source_table,
        max(landing_date) as landing_date
    from daily
    group by source_table
),

today as (
    select daily.*
    from daily
    inner join newest
        on daily.source_table = newest.source_table and daily.landing_date = newest.landing_date
),

history as (
    select
        today.source_table,
        count(*) as history_days,
        sum(earlier.landed_rows) as history_landed_rows,
        sum(earlier.quarantined_rows) as history_quarantined_rows
    from today
    inner join daily as earlier
        on
            earlier.source_table = today.source_table
            and earlier.landing_date < today.landing_date
            and earlier.landing_date >= {{ dbt.dateadd('day', -rule.history_days, 'today.landing_date') }}
            and earlier.landed_rows > 0
    group by today.source_table
),

rates as (
    select
        today.source_table,
        today.landing_date,
        today.landed_rows,
        today.quarantined_rows,
        history.history_days,
        cast(today.quarantined_rows as {{ type_double() }}) / today.landed_rows as quarantine_rate,
        cast(history.history_quarantined_rows as {{ type_double() }}) / history.history_landed_rows as history_rate
    from today
    inner join history on today.source_table = history.source_table
    where today.landed_rows >= {{ rule.min_rows }} and history.history_days >= {{ rule.min_history_days }}
)

select *
from rates
where
    quarantine_rate > {{ rule.factor }} * history_rate
    and quarantine_rate - history_rate > {{ rule.min_increase }}
{% endtest %}
