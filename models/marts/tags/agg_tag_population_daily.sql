-- Per as-of date, tag and segment (city, age band, KYC risk grade): how many customers hold the tag and what
-- share of the segment that is — from the tag history, so every day the history changed is here, up to today.
-- What the tag dashboard reads; counts only. Segments are the customers' current attributes.
{%- set tag_columns = tag_profile_columns() %}
with

history as (
    select * from {{ ref('snap_customer_tags') }}
    where coalesce(dbt_is_deleted, 'False') <> 'True'
),

customers as (
    select * from {{ ref('dim_customers') }}
),

catalog as (
    select * from {{ ref('tag_catalog') }}
),

as_of_dates as (
    select distinct dbt_valid_from as as_of_date from history
    union
    select max(as_of_date) as as_of_date from history
),

-- Each version with its customer's segment, then one row per tag it holds: once per version, not once per date
-- it holds on (that grew as customers × dates: every day of the history again in each daily run).
segmented as (
    select
        history.dbt_valid_from,
        history.dbt_valid_to,
        {%- for column, _ in tag_columns %}
        history.{{ column }},
        {%- endfor %}
        customers.city,
        customers.age_band,
        customers.risk_grade
    from history
    inner join customers
        on history.customer_token = customers.customer_token
),

held as (
    {%- for column, tag_code in tag_columns %}
    select
        dbt_valid_from,
        dbt_valid_to,
        '{{ tag_code }}' as tag_code,
        city,
        age_band,
        risk_grade
    from segmented
    where {{ column }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

-- A version adds its holders from its dbt_valid_from and takes them away from its dbt_valid_to: the holders on a
-- date are the running sum of these changes up to it.
changes as (
    select
        change_date,
        tag_code,
        city,
        age_band,
        risk_grade,
        sum(holder_change) as holder_change
    from (
        select
            dbt_valid_from as change_date,
            tag_code,
            city,
            age_band,
            risk_grade,
            1 as holder_change
        from held
        union all
        select
            dbt_valid_to as change_date,
            tag_code,
            city,
            age_band,
            risk_grade,
            -1 as holder_change
        from held
        where dbt_valid_to is not null
    ) as moves
    group by change_date, tag_code, city, age_band, risk_grade
),

-- Every as-of date of every tag and segment, put after that date's changes: the running sum of the changes up to it
-- is what counting the versions that hold on the date gives (dbt_valid_from <= as_of_date < dbt_valid_to, or no
-- dbt_valid_to). One sort of the changes and the dates, instead of a range join of every change to every date.
timeline as (
    select
        tag_code,
        city,
        age_band,
        risk_grade,
        change_date as event_date,
        holder_change,
        false as is_as_of_date
    from changes
    union all
    select
        tag_segments.tag_code,
        tag_segments.city,
        tag_segments.age_band,
        tag_segments.risk_grade,
        as_of_dates.as_of_date as event_date,
        0 as holder_change,
        true as is_as_of_date
    from (
        select distinct
            tag_code,
            city,
            age_band,
            risk_grade
        from changes
    ) as tag_segments
    cross join as_of_dates
),

counted as (
    select
        event_date,
        tag_code,
        city,
        age_band,
        risk_grade,
        is_as_of_date,
        sum(holder_change) over (
            partition by tag_code, city, age_band, risk_grade
            order by event_date, is_as_of_date
            rows between unbounded preceding and current row
        ) as holder_count
    from timeline
),

tagged as (
    select
        event_date as as_of_date,
        tag_code,
        city,
        age_band,
        risk_grade,
        holder_count as tagged_customer_count
    from counted
    where is_as_of_date and holder_count > 0
),

segments as (
    select
        city,
        age_band,
        risk_grade,
        count(*) as segment_customer_count
    from customers
    group by city, age_band, risk_grade
)

select
    cast(tagged.as_of_date as date) as as_of_date,
    cast(tagged.tag_code as varchar) as tag_code,
    catalog.tag_family,
    tagged.city,
    tagged.age_band,
    tagged.risk_grade,
    cast(tagged.tagged_customer_count as bigint) as tagged_customer_count,
    cast(segments.segment_customer_count as bigint) as segment_customer_count,
    cast(tagged.tagged_customer_count as {{ type_double() }})
    / cast(segments.segment_customer_count as {{ type_double() }}) as tagged_share
from tagged
inner join segments
    on
        tagged.city = segments.city
        and tagged.age_band = segments.age_band
        and tagged.risk_grade = segments.risk_grade
left join catalog
    on tagged.tag_code = catalog.tag_code
