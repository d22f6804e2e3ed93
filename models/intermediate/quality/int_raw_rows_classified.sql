-- Every raw row of every source table, reduced to where it landed and whether staging accepted it.
-- Incremental per source and landing partition (docs/daily-runs.md), as fct_quarantined_rows: a run counts each
-- base table's rows from that source's window start on (source_window_starts), after its pre-hook deleted the counts
-- held from there (source_partition_replace_incremental), so a partition landed again is counted as it is now and
-- one whose files are gone loses its counts; older partitions are neither read nor touched (the counts of all
-- history, 148 M raw rows at the large scale, are not grouped again every day).
{{ config(**source_partition_replace_incremental('source_table')) }}
{%- set starts = source_window_starts('source_table') %}

with

{% for table in staged_tables() %}
{{ table.base }} as (
    select
        '{{ table.source_table }}' as source_table,
        landing_date,
        reject_reason,
        count(*) as row_count
    from {{ ref(table.base) }}
    where {{ source_landed_since(starts, table.source_table) }}
    group by landing_date, reject_reason
),
{% endfor %}

unioned as (
    {%- for table in staged_tables() %}
    select * from {{ table.base }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from unioned
