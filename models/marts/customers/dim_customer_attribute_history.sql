-- Every period in which a customer's generalised attributes stayed the same: [valid_from, valid_to). Neighbouring
-- snapshot versions with equal attributes (a version that changed only contact data) are merged into one period.
-- As of any moment t: `where valid_from <= t and (valid_to > t or valid_to is null)` (macro customer_attributes_as_of,
-- analyses/customer_attributes_as_of.sql).
-- Incremental per customer (docs/daily-runs.md): a run recomputes whole, from every version of their history, the
-- customers whose history the table does not hold as the snapshot does now — a version added, or the current one
-- closed — and replaces their periods (group_replace_incremental on customer_token). Not by date: a version is
-- dated by the CRM's updated_at, which may be older than versions the table already holds (a customer first seen
-- today), and a withdrawn customer's version is closed at the run's clock.
{{ config(**group_replace_incremental(['customer_token'])) }}
{%- set attributes = [
    'gender', 'birth_year', 'age_band', 'city', 'district', 'home_branch_code', 'risk_grade', 'customer_status',
    'customer_since_date', 'has_mobile', 'has_email'
] %}
{%- set open_ended = "cast('9999-12-31' as timestamp)" %}

with

{%- if not is_incremental() %}

versions as (
    select * from {{ ref('snap_customer_attributes') }}
),
{%- else %}

-- read twice (each customer's history summed up, then the touched customers' versions): not materialized
versions_all as {{ not_materialized() }} (
    select * from {{ ref('snap_customer_attributes') }}
),

-- each customer's history summed up, as the snapshot holds it and as this table holds it: how many versions, and
-- when the last one ends (open-ended while current). A new version changes the count, a closed one the end.
in_snapshot as (
    select
        customer_token,
        count(*) as version_count,
        max(coalesce(dbt_valid_to, {{ open_ended }})) as valid_until
    from versions_all
    group by customer_token
),

in_table as (
    select
        customer_token,
        sum(crm_version_count) as version_count,
        max(coalesce(valid_to, {{ open_ended }})) as valid_until
    from {{ this }}
    group by customer_token
),

touched as (
    select in_snapshot.customer_token
    from in_snapshot
    left join in_table
        on in_snapshot.customer_token = in_table.customer_token
    where
        in_table.customer_token is null
        or in_snapshot.version_count <> in_table.version_count
        or in_snapshot.valid_until <> in_table.valid_until
),

versions as (
    select versions_all.*
    from versions_all
    inner join touched
        on versions_all.customer_token = touched.customer_token
),
{%- endif %}

lagged as (
    select
        versions.*,
        {%- for column in attributes %}
        lag(versions.{{ column }}) over (
            partition by versions.customer_token order by versions.dbt_valid_from
        ) as previous_{{ column }},
        {%- endfor %}
        row_number() over (
            partition by versions.customer_token order by versions.dbt_valid_from
        ) as version_number
    from versions
),

compared as (
    -- null-safe "differs" spelled out: Redshift has no IS DISTINCT FROM
    select
        lagged.*,
        case
            when lagged.version_number = 1 then 1
            {%- for column in attributes %}
            when
                {{ column }} <> previous_{{ column }}
                or ({{ column }} is null and previous_{{ column }} is not null)
                or ({{ column }} is not null and previous_{{ column }} is null)
                then 1
            {%- endfor %}
            else 0
        end as starts_period
    from lagged
),

numbered as (
    select
        compared.*,
        sum(compared.starts_period) over (
            partition by compared.customer_token
            order by compared.dbt_valid_from
            rows between unbounded preceding and current row
        ) as period_number
    from compared
),

periods as (
    select
        customer_token,
        period_number,
        min(dbt_valid_from) as valid_from,
        max(coalesce(dbt_valid_to, {{ open_ended }})) as valid_until,
        count(*) as crm_version_count
    from numbered
    group by customer_token, period_number
),

first_of_period as (
    select * from numbered
    where starts_period = 1
)

select
    periods.customer_token,
    cast(periods.period_number as integer) as period_number,
    {%- for column in attributes %}
    first_of_period.{{ column }},
    {%- endfor %}
    periods.valid_from,
    cast(periods.crm_version_count as integer) as crm_version_count,
    case when periods.valid_until < {{ open_ended }} then periods.valid_until end as valid_to,
    periods.valid_until = {{ open_ended }} as is_current
from periods
inner join first_of_period
    on
        periods.customer_token = first_of_period.customer_token
        and periods.period_number = first_of_period.period_number
