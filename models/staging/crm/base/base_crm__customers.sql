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
    from {{ source('crm', 'customers') }}
    {%- if since %}
    where {{ raw_partitions_since(since) }}
    {%- endif %}
),

masking_keys as (
    {{ masking_keys() }}
),

checked as (
    select
        source.*,
        case
            when {{ missing_required('crm', 'customers') }} then 'missing_required'
            when not {{ national_id_is_valid('source.national_id') }} then 'invalid_checksum'
            when {{ wrong_type('crm', 'customers') }} then 'wrong_type'
            when {{ invalid_content('crm', 'customers') }} then 'invalid_code'
        end as reject_reason
    from source
),

typed as (
    select
        {{ masked_columns('crm', 'customers', relation='checked', as_of=cast_text('checked.updated_at', 'date')) }},
        {{ content_columns('crm', 'customers', relation='checked') }},
        {{ cast_text('checked.customer_since', 'date') }} as customer_since_date,
        {{ cast_text('checked.updated_at', 'timestamp') }} as updated_at,
        masking_keys.key_version as masking_key_version,
        checked.source_file,
        checked.reject_reason,
        case
            when checked.reject_reason is not null then {{ masked_record('crm', 'customers', relation='checked') }}
        end as quarantined_record,
        {{ landing_date() }} as landing_date
    from checked
    cross join masking_keys
)

select * from typed
