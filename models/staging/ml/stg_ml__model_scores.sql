-- Model scores, typed, with every row kept and a reason on those to quarantine.
-- Walking skeleton: the scored customer's national ID is checked for presence but not selected.
with

source as (
    select * from {{ source('ml', 'model_scores') }}
),

typed as (
    select
        {{ landing_date() }} as landing_date,
        lower(model_name) as model_name,
        model_version,
        scored_at,
        score,
        case
            when {{ missing_required('ml', 'model_scores') }} then 'missing_required'
            when score < 0 or score > 1 then 'score_out_of_range'
        end as reject_reason
    from source
)

select * from typed
