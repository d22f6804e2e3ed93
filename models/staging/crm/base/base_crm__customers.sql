-- Every row of the CRM change extract: checked, typed and masked, with the reason a rejected row is quarantined
-- and its raw record (personal data masked). stg_crm__customers keeps the accepted, latest versions.
-- Incremental by landing partition (docs/daily-runs.md): a run re-reads only the partitions from
-- landing_window_start() on and replaces them (landing_date stays the last column: Athena overwrites partitions by it).
{{ config(**landing_partition_incremental()) }}
{%- set since = landing_window_start() %}

with

source as (
    select
        *,
        {{ raw_source_file('crm', 'customers') }} as source_file
    from {{ raw_source('crm', 'customers', since) }}
    {%- if since %}
    where {{ raw_partitions_since(since) }}
    {%- endif %}
),

masking_keys as (
    {{ masking_keys() }}
),

{# Each code's validity and each typed field's cast once per row: the reject reason, the staged and typed values and
    the quarantined record read them. #}
content_checked as (
    select
        source.*,
        {{ content_flags('crm', 'customers') }},
        {{ typed_values('crm', 'customers') }}
    from source
),

checked as (
    select
        content_checked.*,
        case
            when {{ missing_required('crm', 'customers', relation='content_checked') }} then 'missing_required'
            when not {{ national_id_is_valid('content_checked.national_id') }} then 'invalid_checksum'
            when {{ wrong_type('crm', 'customers', relation='content_checked', typed=true) }} then 'wrong_type'
            when {{ invalid_content('crm', 'customers', relation='content_checked', flagged=true) }}
                then 'invalid_code'
        end as reject_reason
    from content_checked
),

typed as (
    select
        {{ masked_columns(
            'crm', 'customers', relation='checked', typed=true,
            as_of='cast(' ~ typed_value('checked', 'updated_at') ~ ' as date)'
        ) }},
        {{ content_columns('crm', 'customers', relation='checked', flagged=true) }},
        {{ typed_value('checked', 'customer_since') }} as customer_since_date,
        {{ typed_value('checked', 'updated_at') }} as updated_at,
        masking_keys.key_version as masking_key_version,
        checked.source_file,
        checked.reject_reason,
        case
            when checked.reject_reason is not null
                then {{ masked_record('crm', 'customers', relation='checked', flagged=true) }}
        end as quarantined_record,
        {{ landing_date() }} as landing_date
    from checked
    cross join masking_keys
)

select * from typed
