-- The quarantine: every raw row staging rejected, from every source table, with where it landed (landing date and
-- file; no engine gives a line number), why, and its raw record with personal data masked. Nothing is dropped
-- silently: raw rows = accepted + collapsed + these.
-- Incremental per source and landing partition (docs/daily-runs.md): a run reads each base table's rejected rows
-- from that source's window start on (source_window_starts), after its pre-hook deleted the rows held from there
-- (source_partition_replace_incremental), so a partition landed again without rejects loses its old ones.
{{ config(**source_partition_replace_incremental('source_table')) }}
{%- set starts = source_window_starts('source_table') %}

with

{% for table in staged_tables() %}
{{ table.base }} as (
    select
        '{{ table.source_table }}' as source_table,
        landing_date,
        source_file,
        reject_reason,
        customer_token,
        quarantined_record
    from {{ ref(table.base) }}
    where reject_reason is not null and {{ source_landed_since(starts, table.source_table) }}
),
{% endfor %}

unioned as (
    {%- for table in staged_tables() %}
    select * from {{ table.base }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from unioned
