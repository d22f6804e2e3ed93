-- What does staging reject, from which source table, and why? Quarantined rows per source table and reject
-- reason over the whole lake, with the share of the table's raw rows: where to start a data-quality
-- conversation with a source system.
with

quarantined as (
    select * from {{ ref('fct_quarantined_rows') }}
),

reconciliation as (
    select * from {{ ref('fct_source_reconciliation') }}
),

by_reason as (
    select
        source_table,
        reject_reason,
        count(*) as quarantined_rows,
        min(landing_date) as first_landing_date,
        max(landing_date) as last_landing_date
    from quarantined
    group by source_table, reject_reason
)

select
    by_reason.source_table,
    by_reason.reject_reason,
    by_reason.quarantined_rows,
    by_reason.first_landing_date,
    by_reason.last_landing_date,
    cast(by_reason.quarantined_rows as {{ type_double() }}) / reconciliation.raw_rows as share_of_raw_rows
from by_reason
inner join reconciliation
    on by_reason.source_table = reconciliation.source_table
order by by_reason.source_table asc, by_reason.quarantined_rows desc
