-- The quarantine: every raw row staging rejected, from every source table, with where it landed (landing date and
-- file; no engine gives a line number), why, and its raw record with personal data masked. Nothing is dropped
-- silently: raw rows = accepted + collapsed + these.
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
    where reject_reason is not null
),
{% endfor %}

unioned as (
    {%- for table in staged_tables() %}
    select * from {{ table.base }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from unioned
