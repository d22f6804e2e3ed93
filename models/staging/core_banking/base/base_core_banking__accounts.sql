-- Every row of core banking's account change extract: checked, typed and masked, with the reason a rejected row
-- is quarantined and its raw record (personal data masked). The holder's national ID becomes customer_token,
-- tokenized once per distinct ID. stg_core_banking__accounts keeps the accepted, latest versions.
-- Incremental by landing partition (docs/daily-runs.md): a run re-reads only the partitions from
-- landing_window_start() on and replaces them (landing_date stays the last column: Athena overwrites partitions by it).
{{ config(**landing_partition_incremental()) }}
{%- set since = landing_window_start() %}

with

source as (
    select
        *,
        {{ raw_source_file('core_banking', 'accounts') }} as source_file
    from {{ raw_source('core_banking', 'accounts', since) }}
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
        {{ content_flags('core_banking', 'accounts') }}
    from source
),

checked as (
    select
        content_checked.*,
        case
            when {{ missing_required('core_banking', 'accounts', relation='content_checked') }} then 'missing_required'
            when {{ wrong_type('core_banking', 'accounts', relation='content_checked') }} then 'wrong_type'
            when {{ cast_text('content_checked.balance_twd', 'decimal(18, 2)') }} < 0 then 'negative_amount'
            when {{ cast_text('content_checked.balance_twd', 'decimal(18, 2)') }} >= {{ var('absurd_amount_twd') }}
                then 'absurd_amount'
            when {{ invalid_content('core_banking', 'accounts', relation='content_checked', flagged=true) }}
                then 'invalid_code'
        end as reject_reason
    from content_checked
),

typed as (
    select
        {{ masked_columns(
            'core_banking', 'accounts', relation='checked', lookups={'national_id': 'customer_tokens'}
        ) }},
        {{ content_columns('core_banking', 'accounts', relation='checked', flagged=true) }},
        {{ cast_text('checked.opened_date', 'date') }} as opened_date,
        {{ cast_text('checked.closed_date', 'date') }} as closed_date,
        {{ cast_text('checked.balance_twd', 'decimal(18, 2)') }} as balance_twd,
        {{ cast_text('checked.credit_limit_twd', 'decimal(18, 2)') }} as credit_limit_twd,
        {{ cast_text('checked.updated_at', 'timestamp') }} as updated_at,
        checked.source_file,
        checked.reject_reason,
        case
            when checked.reject_reason is not null
                then {{ masked_record('core_banking', 'accounts', relation='checked', flagged=true) }}
        end as quarantined_record,
        {{ landing_date() }} as landing_date
    from checked
    left join customer_tokens
        on checked.national_id = customer_tokens.value
    cross join masking_keys  -- the quarantined record's keyed hashes
)

select * from typed
