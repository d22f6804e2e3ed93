-- App events: each raw line parsed as JSON, one row per raw line (malformed lines included), masked, with a
-- reason on those to quarantine. The raw line itself never leaves: only the declared keys, treated.
with

source as (
    select * from {{ source('digital', 'app_events') }}
),

masking_keys as (
    {{ masking_keys() }}
),

parsed as (
    select
        {{ landing_date() }} as landing_date,
        {{ json_is_valid('raw_line') }} as is_valid_json,
        case when {{ json_is_valid('raw_line') }} then raw_line end as json_line
    from source
),

logins as (
    select
        parsed.*,
        {{ json_text('parsed.json_line', ['national_id']) }} as login_national_id
    from parsed
),

customer_tokens as (
    {{ token_lookup('logins', 'login_national_id', 'national_id') }}
),

typed as (
    select
        {{ masked_columns('digital', 'app_events', relation='logins', lookups={'national_id': 'customer_tokens'}) }},
        logins.landing_date,
        {{ json_text('logins.json_line', ['event_id']) }} as event_id,
        lower({{ json_text('logins.json_line', ['event_type']) }}) as event_type,
        {{ safe_cast(json_text('logins.json_line', ['event_at']), 'timestamp') }} as event_at,
        {{ json_text('logins.json_line', ['page']) }} as page,
        {{ json_text('logins.json_line', ['product_code']) }} as product_code,
        lower({{ json_text('logins.json_line', ['device', 'os']) }}) as device_os,
        {{ json_text('logins.json_line', ['device', 'os_version']) }} as device_os_version,
        {{ json_text('logins.json_line', ['device', 'app_version']) }} as app_version,
        {{ json_text('logins.json_line', ['device', 'device_model']) }} as device_model,
        case
            when not logins.is_valid_json then 'malformed_json'
            when {{ missing_required('digital', 'app_events', relation='logins') }} then 'missing_required'
            when {{ wrong_type('digital', 'app_events', relation='logins') }} then 'wrong_type'
        end as reject_reason
    from logins
    left join customer_tokens
        on logins.login_national_id = customer_tokens.value
)

select * from typed
