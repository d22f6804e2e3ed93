-- Every raw row of every source table, reduced to where it landed and whether staging accepted it.
with

{% for table in staged_tables() %}
{{ table.base }} as (
    select
        '{{ table.source_table }}' as source_table,
        landing_date,
        reject_reason,
        count(*) as row_count
    from {{ ref(table.base) }}
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
