-- Per daily feed (source YAML `completeness: rows_every_day`) and landing day, from the lake's first landing day
-- to its as-of date: the rows that landed. A day with none (an empty or header-only extract, a 0-row file, no
-- partition at all) is incomplete; the test on is_complete fails the build and keeps the table and day it found
-- (store_failures), so the failure names them. Nothing here is personal data.
with

intake as (
    select * from {{ ref('fct_raw_intake_daily') }}
),

as_of as (
    select as_of_date from {{ ref('int_landing_days_summarized') }}
),

first_landing as (
    select min(landing_date) as first_date from intake
),

daily_feeds as (
    {%- set feeds = daily_feeds() %}
    {%- if feeds %}
    {%- for table in feeds %}
    select '{{ table }}' as source_table
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
    {%- else %}
    select cast(null as varchar) as source_table
    from first_landing
    where 1 = 0
    {%- endif %}
),

digits as (
    select 0 as digit
    {%- for digit in range(1, 10) %}
    union all
    select {{ digit }} as digit
    {%- endfor %}
),

day_offsets as (
    select thousands.digit * 1000 + hundreds.digit * 100 + tens.digit * 10 + ones.digit as day_offset
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
    cross join digits as thousands
),

calendar as (
    select
        daily_feeds.source_table,
        cast({{ dbt.dateadd('day', 'day_offsets.day_offset', 'first_landing.first_date') }} as date) as landing_date
    from daily_feeds
    cross join first_landing
    cross join day_offsets
    cross join as_of
    where
        cast({{ dbt.dateadd('day', 'day_offsets.day_offset', 'first_landing.first_date') }} as date) <= as_of.as_of_date
),

counted as (
    select
        calendar.source_table,
        calendar.landing_date,
        cast(coalesce(intake.raw_rows, 0) as bigint) as raw_rows,
        coalesce(intake.raw_rows, 0) > 0 as is_complete
    from calendar
    left join intake
        on
            calendar.source_table = intake.source_table
            and calendar.landing_date = intake.landing_date
)

select * from counted
