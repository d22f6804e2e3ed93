-- The quality history: one row per check per run. This model only shapes the table (its contract); the rows are
-- appended after each run by the on-run-end hook record_quality_history (macros/quality/quality_history.sql) or by
-- `taglake quality record`. It differs from its folder: incremental, append-only, and never rebuilt
-- (full_refresh false), so a `--full-refresh` of the project keeps the history.
-- The hook reads the reconciliation marts after they are built:
-- depends_on: {{ ref('fct_source_reconciliation') }}
-- depends_on: {{ ref('fct_raw_intake_daily') }}
-- Its incremental strategy is the folder's (merge on Athena and Redshift, as every mart), keyed by the check of a
-- run: the model itself selects no row, so a merge or a delete+insert changes nothing the hook wrote.
{{ config(
    materialized='incremental',
    unique_key=['run_id', 'check_id'],
    full_refresh=false,
    on_schema_change='append_new_columns',
) }}

with

shape as (
    select
        cast(null as varchar) as run_id,
        cast(null as varchar) as invocation_id,
        cast(null as date) as as_of_date,
        cast(null as timestamp) as recorded_at,
        cast(null as varchar) as check_id,
        cast(null as varchar) as check_name,
        cast(null as varchar) as check_kind,
        cast(null as varchar) as model,  -- noqa: RF04
        cast(null as varchar) as layer,
        cast(null as varchar) as column_name,
        cast(null as varchar) as quality_dimension,
        cast(null as varchar) as severity,
        cast(null as varchar) as status,
        cast(null as bigint) as failing_rows,
        cast(null as bigint) as checked_rows
)

select * from shape
where 1 = 0
