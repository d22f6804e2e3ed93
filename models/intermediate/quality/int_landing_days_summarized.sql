-- The lake's calendar, one row: its first landing day and its as-of date (the newest landing day of any raw table).
-- Every tag window, day count and completeness check counts back from as_of_date, so a rebuild of the same lake
-- gives the same answers.
with

raw_rows as (
    select * from {{ ref('int_raw_rows_classified') }}
),

summarized as (
    select
        min(landing_date) as first_landing_date,
        max(landing_date) as as_of_date
    from raw_rows
)

select * from summarized
