-- Every model score: checked, typed and masked, with the reason a rejected row is quarantined and its raw record
-- (personal data masked). The scored customer's national ID becomes customer_token, tokenized once per distinct ID.
-- stg_ml__model_scores keeps one accepted row per customer, model, version and scoring run.
-- Incremental by landing partition (docs/daily-runs.md): a run re-reads only the partitions from
-- landing_window_start() on and replaces them (landing_date stays the last column: Athena overwrites partitions by it).
{{ config(**landing_partition_incremental()) }}
{%- set since = landing_window_start() %}

with

source as {{ not_materialized() }} (
    select
        *,
        {{ raw_source_file('ml', 'model_scores') }} as source_file
    from {{ raw_source('ml', 'model_scores', since) }}
    {%- if since %}
    where {{ raw_partitions_since(since) }}
    {%- endif %}
),

masking_keys as (
    {{ masking_keys() }}
),

customer_tokens as (
    {{ token_lookup('source', 'national_id', 'national_id') }}
),

{# Each code's validity once per row: the reject reason, the staged value and the quarantined record read it. #}
content_checked as (
    select
        source.*,
        {{ content_flags('ml', 'model_scores') }}
    from source
),

checked as (
    select
        content_checked.*,
        case
            when {{ missing_required('ml', 'model_scores', relation='content_checked') }} then 'missing_required'
            when content_checked.score < 0 or content_checked.score > 1 then 'score_out_of_range'
            when {{ invalid_content('ml', 'model_scores', relation='content_checked', flagged=true) }}
                then 'invalid_code'
        end as reject_reason
    from content_checked
),

typed as (
    select
        {{ masked_columns('ml', 'model_scores', relation='checked', lookups={'national_id': 'customer_tokens'}) }},
        {{ content_columns('ml', 'model_scores', relation='checked', flagged=true) }},
        checked.scored_at,
        checked.score,
        checked.source_file,
        checked.reject_reason,
        case
            when checked.reject_reason is not null
                then {{ masked_record('ml', 'model_scores', relation='checked', flagged=true) }}
        end as quarantined_record,
        {{ landing_date() }} as landing_date
    from checked
    left join customer_tokens
        on checked.national_id = customer_tokens.value
    cross join masking_keys  -- the quarantined record's keyed hashes
)

select * from typed
