-- Model scores, typed and masked, one row per raw row, with a reason on those to quarantine. The scored
-- customer's national ID becomes customer_token, tokenized once per distinct ID.
with

source as (
    select * from {{ source('ml', 'model_scores') }}
),

masking_keys as (
    {{ masking_keys() }}
),

customer_tokens as (
    {{ token_lookup('source', 'national_id', 'national_id') }}
),

typed as (
    select
        {{ masked_columns('ml', 'model_scores', lookups={'national_id': 'customer_tokens'}) }},
        {{ landing_date() }} as landing_date,
        lower(source.model_name) as model_name,
        source.model_version,
        source.scored_at,
        source.score,
        case
            when {{ missing_required('ml', 'model_scores') }} then 'missing_required'
            when source.score < 0 or source.score > 1 then 'score_out_of_range'
        end as reject_reason
    from source
    left join customer_tokens
        on source.national_id = customer_tokens.value
)

select * from typed
