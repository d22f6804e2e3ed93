-- One row per customer, model and outcome month, accepted and masked.
with

accepted as (
    select * from {{ ref('base_ml__model_outcomes') }}
    where reject_reason is null
),

first_landed as (
    {{ deduplicated('accepted', ['customer_token', 'model_name', 'outcome_month'], 'landing_date asc') }}
)

select
    customer_token,
    model_name,
    outcome_month,
    label,
    landing_date
from first_landed
