-- Per raw source table: rows landed = rows accepted (one per key) + rows collapsed (exact duplicates, older
-- versions) + rows quarantined. The tests hold the identity; the pytest suite checks it against the generator.
with

{% for table in staged_tables() %}
{{ table.stg }}_counts as (
    select
        '{{ table.source_table }}' as source_table,
        (select count(*) from {{ ref(table.base) }}) as raw_rows,
        (select count(*) from {{ ref(table.stg) }}) as accepted_rows,
        (
            select count(*) from {{ ref(table.base) }}
            where reject_reason is not null
        ) as quarantined_rows
),
{% endfor %}

unioned as (
    {%- for table in staged_tables() %}
    select * from {{ table.stg }}_counts
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select
    source_table,
    cast(raw_rows as bigint) as raw_rows,
    cast(accepted_rows as bigint) as accepted_rows,
    cast(raw_rows - accepted_rows - quarantined_rows as bigint) as collapsed_rows,
    cast(quarantined_rows as bigint) as quarantined_rows
from unioned
