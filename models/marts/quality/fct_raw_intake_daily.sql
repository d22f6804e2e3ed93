-- Rows landed per source table and landing day: how many staging accepted and how many it quarantined.
with

classified as (
    select * from {{ ref('int_raw_rows_classified') }}
),

daily as (
    select
        source_table,
        landing_date,
        sum(row_count) as raw_rows,
        sum(case when reject_reason is null then row_count else 0 end) as accepted_rows,
        sum(case when reject_reason is not null then row_count else 0 end) as quarantined_rows
    from classified
    group by source_table, landing_date
)

select * from daily
