-- Per customer with card spend in the last 90 days: spend over the windows the tag rules and the training
-- features read, counted back from the lake's as-of date (the newest landing day of any raw table). The 90 days are
-- also given as constants when the calendar is built (built_as_of_date): DuckDB then reads only the storage blocks
-- that hold them (2.3 s less of 46 M rows at the large scale), where the join's bounds make it read every row.
-- Amounts are decimal(18, 2), the marts' type: a sum is decimal(38, 2) on DuckDB (128 bits a value), which costs
-- about three times as much to write (docs/performance.md).
{%- set window_days = 90 %}
{%- set as_of_date = built_as_of_date(ref('int_landing_days_summarized')) %}
{%- set first_day = as_of_date - modules.datetime.timedelta(days=window_days - 1) if as_of_date else none %}
with

transactions as (
    select * from {{ ref('int_card_transactions_categorized') }}
),

as_of as (
    select as_of_date from {{ ref('int_landing_days_summarized') }}
),

recent as (
    select
        transactions.customer_token,
        transactions.amount_twd,
        transactions.spend_category,
        transactions.channel,
        transactions.is_foreign,
        as_of.as_of_date,
        transactions.transaction_date > {{ dbt.dateadd('day', -30, 'as_of.as_of_date') }} as is_last_30d
    from transactions
    cross join as_of
    where
        transactions.transaction_date > {{ dbt.dateadd('day', -window_days, 'as_of.as_of_date') }}
        and transactions.transaction_date <= as_of.as_of_date
        and {{ constant_bounds('transactions.transaction_date', first_day, as_of_date) }}
),

windowed as (
    select
        customer_token,
        max(as_of_date) as as_of_date,
        count(case when is_last_30d then 1 end) as transaction_count_30d,
        sum(case when is_last_30d then amount_twd else 0 end) as spend_30d_twd,
        count(*) as transaction_count_90d,
        sum(amount_twd) as spend_90d_twd,
        count(case when is_foreign then 1 end) as foreign_transaction_count_90d,
        sum(case when is_foreign then amount_twd else 0 end) as foreign_spend_90d_twd,
        sum(case when spend_category = 'travel' then amount_twd else 0 end) as travel_spend_90d_twd,
        count(case when channel = 'online' then 1 end) as online_transaction_count_90d,
        sum(case when channel = 'online' then amount_twd else 0 end) as online_spend_90d_twd,
        count(case when spend_category = 'dining' then 1 end) as dining_transaction_count_90d
    from recent
    group by customer_token
)

select
    customer_token,
    as_of_date,
    transaction_count_30d,
    cast(spend_30d_twd as decimal(18, 2)) as spend_30d_twd,
    transaction_count_90d,
    cast(spend_90d_twd as decimal(18, 2)) as spend_90d_twd,
    foreign_transaction_count_90d,
    cast(foreign_spend_90d_twd as decimal(18, 2)) as foreign_spend_90d_twd,
    cast(travel_spend_90d_twd as decimal(18, 2)) as travel_spend_90d_twd,
    online_transaction_count_90d,
    cast(online_spend_90d_twd as decimal(18, 2)) as online_spend_90d_twd,
    dining_transaction_count_90d
from windowed
