-- Daily card spend by category, channel and domestic/foreign: what the spend dashboard reads.
with

spend as (
    select * from {{ ref('int_card_spend_aggregated_daily') }}
)

select
    transaction_date,
    spend_category,
    channel,
    is_foreign,
    transaction_count,
    spend_twd,
    cast(spend_twd / transaction_count as decimal(18, 2)) as average_ticket_twd
from spend
