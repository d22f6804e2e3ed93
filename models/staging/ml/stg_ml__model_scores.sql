-- One row per customer, model, version and scoring run, accepted and masked.
with

accepted as (
    select * from {{ ref('base_ml__model_scores') }}
    where reject_reason is null
),

first_landed as (
    {{ deduplicated('accepted', ['customer_token', 'model_name', 'model_version', 'scored_at'], 'landing_date asc') }}
)

select
    customer_token,
    model_name,
    model_version,
    scored_at,
    score,
    landing_date
from first_landed
