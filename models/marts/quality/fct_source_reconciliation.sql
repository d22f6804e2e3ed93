-- Per raw source table: rows landed = rows accepted (one per key) + rows collapsed (exact duplicates, older
-- versions) + rows quarantined. The tests hold the identity; the pytest suite checks it against the generator.
{%- set tables = [
    ('crm.customers', 'base_crm__customers', 'stg_crm__customers'),
    ('core_banking.accounts', 'base_core_banking__accounts', 'stg_core_banking__accounts'),
    ('cards.transactions', 'base_cards__transactions', 'stg_cards__transactions'),
    ('digital.app_events', 'base_digital__app_events', 'stg_digital__app_events'),
    ('ml.model_scores', 'base_ml__model_scores', 'stg_ml__model_scores'),
] %}
with

{% for source_table, base, stg in tables %}
{{ stg }}_counts as (
    select
        '{{ source_table }}' as source_table,
        (select count(*) from {{ ref(base) }}) as raw_rows,
        (select count(*) from {{ ref(stg) }}) as accepted_rows,
        (
            select count(*) from {{ ref(base) }}
            where reject_reason is not null
        ) as quarantined_rows
),
{% endfor %}

unioned as (
    {%- for source_table, base, stg in tables %}
    select * from {{ stg }}_counts
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
