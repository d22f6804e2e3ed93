-- One row per customer: the latest accepted version of the CRM change extract, masked. Older versions and exact
-- duplicates collapse here; rejected rows are in the quarantine (fct_quarantined_rows).
-- Incremental: the latest version among the accepted rows landed from landing_window_start() on, compared with the
-- version this table holds for the same keys, merged on the key. Every version landed before the window was
-- compared when it landed, so the row kept is the latest over all history, as a full build keeps it.
{{ config(**keyed_incremental(['customer_token'])) }}
{%- set since = landing_window_start() %}
{%- set columns = [
    'customer_token',
    'birth_year',
    'age_band',
    'mobile_token',
    'mobile_masked',
    'email_token',
    'email_masked',
    'city',
    'district',
    'gender',
    'home_branch_code',
    'risk_grade',
    'customer_status',
    'customer_since_date',
    'updated_at',
    'landing_date',
    'masking_key_version'
] %}

with

accepted as (
    select
        {{ columns | join(',\n        ') }}
    from {{ ref('base_crm__customers') }}
    where reject_reason is null
),

in_window as (
    select * from accepted
    {%- if since %}
    where {{ landed_since(since) }}
    {%- endif %}
),

candidates as (
    select * from in_window
    {%- if since %}
    union all
    select
        {{ columns | join(',\n        ') }}
    from {{ this }}
    where customer_token in (select in_window.customer_token from in_window)
    {%- endif %}
),

latest as (
    {{ deduplicated('candidates', ['customer_token'], 'updated_at desc, landing_date desc') }}
)

select
    {{ columns | join(',\n    ') }}
from latest
