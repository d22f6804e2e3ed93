-- Every app event line: parsed as JSON (malformed lines included), checked, typed and masked, with the reason a
-- rejected line is quarantined and the line itself with personal data redacted. The raw line never leaves
-- otherwise: only the declared keys, treated. stg_digital__app_events keeps one accepted row per event.
-- Incremental by landing partition: a run re-reads only the partitions from landing_window_start() on and replaces
-- them (landing_date stays the last column: Athena overwrites partitions by it).
{{ config(**landing_partition_incremental()) }}
{%- set since = landing_window_start() %}
{%- set paths = raw_json_paths('digital', 'app_events') %}

with

source as (
    select
        *,
        {{ raw_source_file('digital', 'app_events') }} as source_file
    from {{ raw_source('digital', 'app_events', since) }}
    {%- if since %}
    where {{ raw_partitions_since(since) }}
    {%- endif %}
),

masking_keys as (
    {{ masking_keys() }}
),

{# The line without a byte-order mark or a Windows carriage return (raw_line_text), before it is parsed. #}
lines as (
    select
        {{ raw_line_text('source.raw_line') }} as raw_line,
        {{ landing_date() }} as landing_date,
        source.source_file
    from source
),

{# The distinct national IDs, page paths and device models of the valid lines, in one pass over a second read of the
    files (distinct_values_by_column, the line column only): the token lookup and the free-text guards read them.
    Read from the parsed rows instead, three lookups would read them three more times, and DuckDB copies a CTE read
    more than once whole first: every parsed line, spilled to disk at the large scale (docs/performance.md). #}
lookup_lines as (
    select {{ raw_line_text('lookup_source.raw_line') }} as raw_line
    from {{ raw_source('digital', 'app_events', since) }} as lookup_source
    {%- if since %}
    where {{ raw_partitions_since(since) }}
    {%- endif %}
),

lookup_parsed as (
    select {{ json_fields('lookup_lines.raw_line', paths) }} as json_fields
    from lookup_lines
    where {{ json_is_valid('lookup_lines.raw_line') }}
),

{%- set lookup_columns = {
    'login_national_id': raw_json_key('digital', 'app_events', 'lookup_parsed', 'json_fields', ['national_id'])} %}
{%- do lookup_columns.update(free_text_values('digital', 'app_events', 'lookup_parsed')) %}

lookup_values as (
    {{ distinct_values_by_column('lookup_parsed', lookup_columns) }}
),

customer_tokens as (
    {{ token_lookup('lookup_values', 'login_national_id', 'national_id') }}
),

{#- Page paths and device models guarded once per distinct value (free_text_guard_ctes), not once per line. #}
{{ free_text_guard_ctes('digital', 'app_events', 'lookup_parsed', values='lookup_values') }}

validated as (
    select
        lines.*,
        {{ json_is_valid('lines.raw_line') }} as is_valid_json
    from lines
),

{# Every declared key parsed once per valid line (json_fields); the checks and treatments read it by path. #}
parsed as (
    select
        validated.*,
        case when validated.is_valid_json then {{ json_fields('validated.raw_line', paths) }} end as json_fields
    from validated
),

{# Each code's validity and each typed key's cast once per line: the reject reason and the staged and typed values
    read them. #}
content_checked as (
    select
        parsed.*,
        {{ content_flags('digital', 'app_events', relation='parsed') }},
        {{ typed_values('digital', 'app_events', relation='parsed') }}
    from parsed
),

reasoned as (
    select
        content_checked.*,
        {{ raw_json_key('digital', 'app_events', 'content_checked', 'json_fields', ['national_id']) }}
            as login_national_id,
        case
            when not content_checked.is_valid_json then 'malformed_json'
            when {{ missing_required('digital', 'app_events', relation='content_checked') }} then 'missing_required'
            when {{ wrong_type('digital', 'app_events', relation='content_checked', typed=true) }} then 'wrong_type'
            when {{ invalid_content('digital', 'app_events', relation='content_checked', flagged=true) }}
                then 'invalid_code'
        end as reject_reason
    from content_checked
),

{# The line itself kept for the rejected lines only (their quarantined record hashes it). -#}
checked as (
    select
        reasoned.is_valid_json,
        reasoned.json_fields,
        {{ content_flag_columns('digital', 'app_events', 'reasoned') }},
        {{ typed_value_columns('digital', 'app_events', 'reasoned') }},
        reasoned.login_national_id,
        reasoned.reject_reason,
        case when reasoned.reject_reason is not null then reasoned.raw_line end as raw_line,
        reasoned.source_file,
        reasoned.landing_date
    from reasoned
),

typed as (
    select
        {{ masked_columns('digital', 'app_events', relation='checked', lookups={'national_id': 'customer_tokens'}) }},
        {{ content_columns('digital', 'app_events', relation='checked', flagged=true, guarded=true) }},
        {{ typed_value('checked', 'event_at') }} as event_at,
        checked.source_file,
        checked.reject_reason,
        case
            when checked.reject_reason is not null
                then {{ masked_record('digital', 'app_events', relation='checked') }}
        end as quarantined_record,
        checked.landing_date
    from checked
    left join customer_tokens
        on checked.login_national_id = customer_tokens.value
    {{- free_text_guard_joins('digital', 'app_events', 'checked') }}
    cross join masking_keys  -- the quarantined record's keyed hashes
)

select * from typed
