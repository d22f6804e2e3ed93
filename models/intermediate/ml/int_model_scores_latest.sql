-- Per customer and model: the latest score, from whichever version scored last.
with

scores as (
    select * from {{ ref('stg_ml__model_scores') }}
),

latest as (
    {{ deduplicated('scores', ['customer_token', 'model_name'], 'scored_at desc, model_version desc') }}
)

select
    customer_token,
    model_name,
    model_version,
    scored_at,
    score
from latest
