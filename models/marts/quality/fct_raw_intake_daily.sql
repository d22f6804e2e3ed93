-- Rows landed per source table and landing day: how many staging accepted and how many it quarantined.
with

classified as (
    select * from {{ ref('int_raw_rows_classified') }}
),

daily as (
    select
        source_table,
        landing_date,
        cast(sum(row_count) as bigint) as raw_rows,
        cast(sum(case when reject_reason is null then row_count else 0 end) as bigint) as accepted_rows,
        cast(sum(case when reject_reason is not null then row_count else 0 end) as bigint) as quarantined_rows
    from classified
    group by source_table, landing_date
)

select * from daily
