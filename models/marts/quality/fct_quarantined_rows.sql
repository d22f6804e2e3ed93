-- The quarantine: every raw row staging rejected, from every source table, with where it landed, why, and its raw
-- record with personal data masked. Nothing is dropped silently: raw rows = accepted + collapsed + these.
{%- set base_models = [
    ('crm.customers', 'base_crm__customers'),
    ('core_banking.accounts', 'base_core_banking__accounts'),
    ('cards.transactions', 'base_cards__transactions'),
    ('digital.app_events', 'base_digital__app_events'),
    ('ml.model_scores', 'base_ml__model_scores'),
] %}
with

{% for source_table, model in base_models %}
{{ model }} as (
    select
        '{{ source_table }}' as source_table,
        landing_date,
        reject_reason,
        customer_token,
        quarantined_record
    from {{ ref(model) }}
    where reject_reason is not null
),
{% endfor %}

unioned as (
    {%- for source_table, model in base_models %}
    select * from {{ model }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
)

select * from unioned
