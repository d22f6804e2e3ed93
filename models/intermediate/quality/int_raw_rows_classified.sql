-- Every raw row of every source table, reduced to where it landed and whether staging accepted it.
{%- set staged = [
    ('crm.customers', 'base_crm__customers'),
    ('core_banking.accounts', 'base_core_banking__accounts'),
    ('cards.transactions', 'base_cards__transactions'),
    ('digital.app_events', 'base_digital__app_events'),
    ('ml.model_scores', 'base_ml__model_scores'),
] %}
with

{% for source_table, model in staged %}
{{ model }} as (
    select
        '{{ source_table }}' as source_table,
        landing_date,
        reject_reason,
        count(*) as row_count
    from {{ ref(model) }}
    group by landing_date, reject_reason
),
{% endfor %}

unioned as (
    {%- for source_table, model in staged %}
    select * from {{ model }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from unioned
