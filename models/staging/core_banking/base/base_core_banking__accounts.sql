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

{# Each code's validity and each typed field's cast once per row: the reject reason, the staged and typed values and
    the quarantined record read them. #}
content_checked as (
    select
        source.*,
        {{ content_flags('core_banking', 'accounts') }},
        {{ typed_values('core_banking', 'accounts') }}
    from source
),

checked as (
    select
        content_checked.*,
        case
            when {{ missing_required('core_banking', 'accounts', relation='content_checked') }} then 'missing_required'
            when {{ wrong_type('core_banking', 'accounts', relation='content_checked', typed=true) }} then 'wrong_type'
            when {{ typed_value('content_checked', 'balance_twd') }} < 0 then 'negative_amount'
            when {{ typed_value('content_checked', 'balance_twd') }} >= {{ var('absurd_amount_twd') }}
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
        {{ typed_value('checked', 'opened_date') }} as opened_date,
        {{ typed_value('checked', 'closed_date') }} as closed_date,
        {{ typed_value('checked', 'balance_twd') }} as balance_twd,
        {{ typed_value('checked', 'credit_limit_twd') }} as credit_limit_twd,
        {{ typed_value('checked', 'updated_at') }} as updated_at,
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
