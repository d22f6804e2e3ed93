-- App events: each raw line parsed as JSON, with every line kept and a reason on those to quarantine
-- (malformed JSON included). Walking skeleton: the login national ID is checked for presence, not selected.
with

source as (
    select * from {{ source('digital', 'app_events') }}
),

parsed as (
    select
        {{ landing_date() }} as landing_date,
        {{ json_is_valid('raw_line') }} as is_valid_json,
        case when {{ json_is_valid('raw_line') }} then raw_line end as json_line
    from source
),

typed as (
    select
        landing_date,
        {{ json_text('json_line', ['event_id']) }} as event_id,
        lower({{ json_text('json_line', ['event_type']) }}) as event_type,
        {{ safe_cast(json_text('json_line', ['event_at']), 'timestamp') }} as event_at,
        {{ json_text('json_line', ['page']) }} as page,
        {{ json_text('json_line', ['product_code']) }} as product_code,
        lower({{ json_text('json_line', ['device', 'os']) }}) as device_os,
        {{ json_text('json_line', ['device', 'os_version']) }} as device_os_version,
        {{ json_text('json_line', ['device', 'app_version']) }} as app_version,
        {{ json_text('json_line', ['device', 'device_model']) }} as device_model,
        case
            when not is_valid_json then 'malformed_json'
            when {{ missing_required('digital', 'app_events', relation='parsed') }} then 'missing_required'
            when {{ wrong_type('digital', 'app_events', relation='parsed') }} then 'wrong_type'
        end as reject_reason
    from parsed
)

select * from typed
