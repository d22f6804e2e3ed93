-- Every period in which a customer's generalised attributes stayed the same: [valid_from, valid_to). Neighbouring
-- snapshot versions with equal attributes (a version that changed only contact data) are merged into one period.
-- As of any moment t: `where valid_from <= t and (valid_to > t or valid_to is null)` (macro customer_attributes_as_of,
-- analyses/customer_attributes_as_of.sql).
{%- set attributes = [
    'gender', 'birth_year', 'age_band', 'city', 'district', 'home_branch_code', 'risk_grade', 'customer_status',
    'customer_since_date', 'has_mobile', 'has_email'
] %}

with

versions as (
    select * from {{ ref('snap_customer_attributes') }}
),

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
        max(coalesce(dbt_valid_to, cast('9999-12-31' as timestamp))) as valid_until,
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
    case when periods.valid_until < cast('9999-12-31' as timestamp) then periods.valid_until end as valid_to,
    periods.valid_until = cast('9999-12-31' as timestamp) as is_current
from periods
inner join first_of_period
    on
        periods.customer_token = first_of_period.customer_token
        and periods.period_number = first_of_period.period_number
